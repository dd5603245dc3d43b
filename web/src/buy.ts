// Buy: search by words or photo, refine with facet filters, "more like this" on any result,
// and the seen-together strip (products found in the same photos, most photos first).
import { fileToBase64, search, seenTogether, similar } from './api.ts';
import { byId, el, setStatus } from './dom.ts';
import { errorText } from './sell.ts';
import type { Facets, FilterCondition, SearchHit, SeenTogetherItem } from './types.ts';

const MATCH_TEXT: Record<SearchHit['match'], string> = { exact: 'exact', similar: 'similar', text: 'words', filter: 'filter' };
const MATCH_TITLE: Record<SearchHit['match'], string> = {
  exact: 'The same product as your photo',
  similar: 'Looks similar',
  text: 'Matches your words',
  filter: 'Matches your filters',
};

/** Price facets come as buckets ("10-50", "1000+"); other facets are plain values. */
function conditionOf(field: string, value: string): FilterCondition {
  if (field !== 'price') return value;
  const [low, high] = value.replace('+', '').split('-');
  return high === undefined ? { gte: Number(low) } : { gte: Number(low), lt: Number(high) };
}

function formatPrice(hit: Pick<SearchHit, 'price' | 'currency'>): string {
  if (hit.price === null) return '';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: hit.currency ?? 'EUR' }).format(hit.price);
  } catch {
    return `${hit.price} ${hit.currency ?? ''}`.trim();
  }
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
  const photoNote = byId('photo-query-note');
  const filtersBox = byId('filters');
  const status = byId('buy-status');
  const results = byId<HTMLUListElement>('results');
  const seenSection = byId('seen-together');
  const seenList = byId('seen-list');

  let text = '';
  let image: string | null = null;
  /** Facet field -> the value chosen in its menu. */
  const chosen = new Map<string, string>();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    text = textInput.value.trim();
    image = null;
    photoNote.textContent = '';
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
      photoNote.textContent = `Searching by your photo: ${file.name}`;
      await run();
    })();
  });

  async function run(): Promise<void> {
    setStatus(status, 'Searching…');
    results.setAttribute('aria-busy', 'true');
    seenSection.hidden = true;
    const filters: Record<string, FilterCondition> = {};
    for (const [field, value] of chosen) filters[field] = conditionOf(field, value);
    try {
      const answer = await search({ ...(text ? { text } : {}), ...(image ? { image } : {}), filters, k: 24 });
      renderFilters(answer.facets);
      renderResults(answer.results);
      const n = answer.results.length;
      setStatus(status, n === 0 ? 'No products match. Try other words or remove a filter.' : `${n} result${n === 1 ? '' : 's'}`);
    } catch (error) {
      setStatus(status, errorText(error), 'error');
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  }

  function renderFilters(facets: Facets): void {
    filtersBox.replaceChildren();
    const fields = new Set([...Object.keys(facets), ...chosen.keys()]);
    for (const field of fields) {
      const values = facets[field] ?? [];
      const id = `filter-${field}`;
      const select = el('select', { id, 'data-field': field }, el('option', { value: '' }, `Any ${field.replace(/_/g, ' ')}`));
      const current = chosen.get(field);
      for (const { value, count } of values) select.append(el('option', { value, selected: value === current }, `${value} (${count})`));
      // Keep the chosen value visible even when the facets no longer count it.
      if (current && !values.some((v) => v.value === current)) select.append(el('option', { value: current, selected: true }, current));
      select.addEventListener('change', () => {
        if (select.value) chosen.set(field, select.value);
        else chosen.delete(field);
        void run();
      });
      filtersBox.append(el('label', { for: id }, field.replace(/_/g, ' '), select));
    }
  }

  function renderResults(hits: SearchHit[], into: HTMLElement = results): void {
    into.replaceChildren(...hits.map(card));
  }

  function pictureOf(item: { image: string | null; title: string }): HTMLElement {
    return item.image
      ? el('img', { src: item.image, alt: item.title, loading: 'lazy' })
      : el('div', { class: 'no-image', role: 'img', 'aria-label': `${item.title} (no photo)` }, 'no photo');
  }

  function card(hit: SearchHit): HTMLElement {
    const picture = pictureOf(hit);
    const more = el('button', { type: 'button', class: 'button small', 'aria-label': `More like ${hit.title}` }, 'More like this');
    more.addEventListener('click', () => void showSimilar(hit));
    const seen = el('button', { type: 'button', class: 'button small', 'aria-label': `Seen together with ${hit.title}` }, 'Seen together');
    seen.addEventListener('click', () => void showSeenTogether(hit));
    return el('li', { class: 'card', 'data-id': hit.id, 'data-match': hit.match },
      picture,
      el('div', { class: 'body' },
        el('h3', {}, hit.title),
        el('p', {},
          el('span', { class: `badge ${hit.match}`, title: MATCH_TITLE[hit.match] }, MATCH_TEXT[hit.match]),
          el('span', { class: 'score' }, `score ${hit.score.toFixed(2)}`)),
        ...(hit.price !== null ? [el('p', { class: 'price' }, formatPrice(hit))] : []),
        ...(hit.why.length > 0 ? [el('p', { class: 'why' }, hit.why.join('; '))] : [])),
      el('div', { class: 'actions' }, more, seen),
    );
  }

  async function showSimilar(hit: SearchHit): Promise<void> {
    setStatus(status, `Looking for products like “${hit.title}”…`);
    seenSection.hidden = true;
    try {
      const answer = await similar(hit.id);
      renderResults(answer.results);
      setStatus(status, answer.results.length === 0 ? `Nothing else looks like “${hit.title}” yet.` : `${answer.results.length} product${answer.results.length === 1 ? '' : 's'} like “${hit.title}”`);
    } catch (error) {
      setStatus(status, errorText(error), 'error');
    }
  }

  function seenCard(item: SeenTogetherItem): HTMLElement {
    const photos = `seen together in ${item.count} photo${item.count === 1 ? '' : 's'}`;
    return el('div', { class: 'card seen', 'data-id': item.id },
      pictureOf(item),
      el('div', { class: 'body' },
        el('h3', {}, item.title),
        el('p', { class: 'count' }, photos),
        ...(item.price !== null ? [el('p', { class: 'price' }, formatPrice(item))] : [])),
    );
  }

  async function showSeenTogether(hit: SearchHit): Promise<void> {
    seenSection.hidden = false;
    try {
      const answer = await seenTogether(hit.id);
      if (answer.results.length === 0) {
        seenList.replaceChildren(el('p', { class: 'empty' }, `Nothing seen together with “${hit.title}” yet. ${answer.note ?? ''}`.trim()));
      } else {
        seenList.replaceChildren(...answer.results.map(seenCard));
      }
    } catch (error) {
      seenList.replaceChildren(el('p', { class: 'empty' }, errorText(error)));
    }
    seenSection.querySelector('h3')?.scrollIntoView({ block: 'nearest' });
  }

  return {
    searchWords(words: string): void {
      textInput.value = words;
      text = words;
      image = null;
      chosen.clear();
      void run();
    },
    card,
  };
}
