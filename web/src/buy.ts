// Buy: search by words or photo, refine with facet filters, "more like this" on any result,
// and the seen-together strip (products found in the same photos, most photos first).
// Every card opens its product's page (product.ts).
import { fileToBase64, search, seenTogether, similar } from './api.ts';
import { formatPrice, opensProduct, picture, stripCard, titleLink } from './cards.ts';
import { byId, el, setStatus } from './dom.ts';
import { nothingFoundText, sawProducts } from './empty-state.ts';
import { fieldName, isListingField, loadFieldTitles, valueText } from './fields.ts';
import { TEXT } from './messages.ts';
import { errorText } from './sell.ts';
import type { Facets, FilterCondition, SearchHit } from './types.ts';

const MATCH_TEXT: Record<SearchHit['match'], string> = { exact: 'exact', similar: 'similar', text: 'words', filter: 'filter' };
const MATCH_TITLE: Record<SearchHit['match'], string> = {
  exact: 'The same product as your photo',
  similar: 'Looks similar',
  text: 'Matches your words',
  // No word of the listing matched: the model's label for its photo, or the filters alone, did.
  filter: 'Matched by the labels predicted for its photo or by your filters, not by its own words',
};

/** Price facets come as buckets ("10-50", "1000+"); other facets are plain values. */
function conditionOf(field: string, value: string): FilterCondition {
  if (field !== 'price') return value;
  const [low, high] = value.replace('+', '').split('-');
  return high === undefined ? { gte: Number(low) } : { gte: Number(low), lt: Number(high) };
}

export interface Buy {
  searchWords(text: string): void;
  /** A result card with its actions (more like this, seen together), for other parts of the page. */
  card(hit: SearchHit): HTMLElement;
}

export function initBuy(): Buy {
  const form = byId<HTMLFormElement>('search-form');
  const textInput = byId<HTMLInputElement>('search-text');
  const fileInput = byId<HTMLInputElement>('buy-file');
  const queryNote = byId('photo-query-note');
  const filtersBox = byId('filters');
  const filtersToggle = byId<HTMLButtonElement>('filters-toggle');
  const status = byId('buy-status');
  const notes = byId('search-notes');
  const results = byId<HTMLUListElement>('results');
  const seenSection = byId('seen-together');
  const seenList = byId('seen-list');

  let text = '';
  let image: string | null = null;
  /** Facet field -> the value chosen in its menu. */
  const chosen = new Map<string, string>();
  /** Only the latest query's answer is shown (a slow photo search must not overwrite "more like this"). */
  let latest = 0;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    text = textInput.value.trim();
    image = null;
    queryNote.textContent = '';
    void run();
  });

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    void (async () => {
      try {
        image = await fileToBase64(file);
      } catch (error) {
        setStatus(status, errorText(error), 'error');
        return;
      }
      text = '';
      textInput.value = '';
      queryNote.textContent = TEXT.photoQuery(file.name);
      await run();
    })();
  });

  // On a phone the menus fold behind one button, so the first results show without scrolling
  // (the button is hidden on wide screens by the style sheet, where the menus always show).
  filtersToggle.addEventListener('click', () => setFiltersOpen(filtersToggle.getAttribute('aria-expanded') !== 'true'));

  function setFiltersOpen(open: boolean): void {
    filtersToggle.setAttribute('aria-expanded', String(open));
    filtersBox.classList.toggle('collapsed', !open);
  }

  async function run(): Promise<void> {
    const ticket = ++latest;
    setStatus(status, 'Searching…');
    results.setAttribute('aria-busy', 'true');
    seenSection.hidden = true;
    const filters: Record<string, FilterCondition> = {};
    for (const [field, value] of chosen) filters[field] = conditionOf(field, value);
    try {
      // The menus name the model's heads as model.json titles them: fetched once, beside the first search.
      const [answer] = await Promise.all([search({ ...(text ? { text } : {}), ...(image ? { image } : {}), filters, k: 24 }), loadFieldTitles()]);
      if (ticket !== latest) return;
      renderFilters(answer.facets);
      renderResults(answer.results);
      notes.textContent = (answer.notes ?? []).join(' ');
      notes.hidden = !answer.notes?.length;
      const n = answer.results.length;
      if (n > 0) {
        sawProducts();
        setStatus(status, `${n} result${n === 1 ? '' : 's'}`);
      } else {
        const words = await nothingFoundText({ words: Boolean(text), filters: chosen.size });
        if (ticket === latest) setStatus(status, words);
      }
    } catch (error) {
      if (ticket === latest) setStatus(status, errorText(error), 'error');
    } finally {
      if (ticket === latest) results.setAttribute('aria-busy', 'false');
    }
  }

  function renderFilters(facets: Facets): void {
    filtersBox.replaceChildren();
    const fields = [...new Set([...Object.keys(facets), ...chosen.keys()])].filter(isListingField);
    for (const field of fields) {
      const values = facets[field] ?? [];
      const id = `filter-${field}`;
      const name = fieldName(field);
      const select = el('select', { id, 'data-field': field }, el('option', { value: '' }, TEXT.anyValue));
      const current = chosen.get(field);
      for (const { value, count } of values) select.append(el('option', { value, selected: value === current }, `${valueText(field, value)} (${count})`));
      // Keep the chosen value visible even when the facets no longer count it.
      if (current && !values.some((v) => v.value === current)) select.append(el('option', { value: current, selected: true }, valueText(field, current)));
      select.addEventListener('change', () => {
        if (select.value) chosen.set(field, select.value);
        else chosen.delete(field);
        void run();
      });
      filtersBox.append(el('label', { for: id }, name, select));
    }
    filtersToggle.hidden = fields.length === 0;
    filtersToggle.textContent = chosen.size > 0 ? `${TEXT.filters} (${chosen.size})` : TEXT.filters;
  }

  function clearFilters(): void {
    chosen.clear();
    filtersBox.replaceChildren();
    filtersToggle.hidden = true;
  }

  function renderResults(hits: SearchHit[], into: HTMLElement = results): void {
    into.replaceChildren(...hits.map(card));
  }

  function card(hit: SearchHit): HTMLElement {
    const more = el('button', { type: 'button', class: 'button small', 'aria-label': `More like ${hit.title}` }, 'More like this');
    more.addEventListener('click', () => void showSimilar(hit));
    const seen = el('button', { type: 'button', class: 'button small', 'aria-label': `Seen together with ${hit.title}` }, 'Seen together');
    seen.addEventListener('click', () => void showSeenTogether(hit));
    const node = el('li', { class: 'card', 'data-id': hit.id, 'data-match': hit.match },
      picture(hit.image, hit.title),
      el('div', { class: 'body' },
        el('h3', {}, titleLink(hit.id, hit.title)),
        el('p', {},
          el('span', { class: `badge ${hit.match}`, title: MATCH_TITLE[hit.match] }, MATCH_TEXT[hit.match]),
          el('span', { class: 'score' }, `score ${hit.score.toFixed(2)}`)),
        ...(hit.price !== null ? [el('p', { class: 'price' }, formatPrice(hit))] : []),
        ...(hit.why.length > 0 ? [el('p', { class: 'why' }, hit.why.join('; '))] : [])),
      el('div', { class: 'actions' }, more, seen),
    );
    opensProduct(node, hit.id);
    return node;
  }

  async function showSimilar(hit: SearchHit): Promise<void> {
    const ticket = ++latest;
    // A new query: the words, photo and filters of the last one no longer describe the results.
    text = '';
    image = null;
    textInput.value = '';
    clearFilters();
    queryNote.textContent = TEXT.similarQuery(hit.title);
    setStatus(status, `Looking for products like “${hit.title}”…`);
    seenSection.hidden = true;
    try {
      const answer = await similar(hit.id);
      if (ticket !== latest) return;
      renderResults(answer.results);
      setStatus(status, answer.results.length === 0 ? `Nothing else looks like “${hit.title}” yet.` : `${answer.results.length} product${answer.results.length === 1 ? '' : 's'} like “${hit.title}”`);
    } catch (error) {
      if (ticket === latest) setStatus(status, errorText(error), 'error');
    }
  }

  async function showSeenTogether(hit: SearchHit): Promise<void> {
    seenSection.hidden = false;
    try {
      const answer = await seenTogether(hit.id);
      if (answer.results.length === 0) {
        seenList.replaceChildren(el('p', { class: 'empty' }, `Nothing seen together with “${hit.title}” yet. ${answer.note ?? ''}`.trim()));
      } else {
        seenList.replaceChildren(...answer.results.map((item) => stripCard(item, TEXT.seenIn(item.count))));
      }
    } catch (error) {
      seenList.replaceChildren(el('p', { class: 'empty' }, errorText(error)));
    }
    seenSection.querySelector('h3')?.scrollIntoView({ block: 'nearest' });
  }

  setFiltersOpen(false);
  return {
    searchWords(words: string): void {
      textInput.value = words;
      text = words;
      image = null;
      queryNote.textContent = '';
      chosen.clear();
      void run();
    },
    card,
  };
}
