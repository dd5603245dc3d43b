// The product page (#/product/ID): its photos, title, price, description, the seller's
// attributes and the model's labels, then strips of similar products and of products seen
// together with it, whose cards open their own page. A removed product says so.
import { ApiError, product as fetchProduct, seenTogether, similar } from './api.ts';
import { formatPrice, picture, stripCard } from './cards.ts';
import { byId, el } from './dom.ts';
import { fieldName, isListingField, loadFieldTitles } from './fields.ts';
import { TEXT } from './messages.ts';
import { errorText } from './sell.ts';
import type { ListResponse, Product, SeenTogetherResponse } from './types.ts';

const PAGE_TITLE = document.title;
const STRIP_SIZE = 12;

export interface ProductView {
  /** Shows the product; `back` is what the back link does (history.back() or the Buy tab). */
  show(id: string, back: () => void): void;
  hide(): void;
}

/** An attribute as text: strings, numbers and lists of them; anything else is left out. */
function attributeText(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const parts = value.map(attributeText).filter((part): part is string => part !== null);
    return parts.length > 0 ? parts.join(', ') : null;
  }
  return null;
}

function definitions(rows: Array<[string, string]>): HTMLElement {
  return el('dl', { class: 'facts' }, ...rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
}

/** Each head's labels over all photos (most products have one): "Clothing type: T-Shirt". */
function modelLabels(item: Product): Array<[string, string]> {
  const byHead = new Map<string, Set<string>>();
  for (const image of item.images) {
    for (const [head, label] of Object.entries(image.labels)) {
      if (!isListingField(head)) continue;
      let labels = byHead.get(head);
      if (!labels) byHead.set(head, (labels = new Set()));
      labels.add(label);
    }
  }
  return [...byHead].map(([head, labels]) => [fieldName(head), [...labels].join(', ')]);
}

function garmentsText(item: Product): string | null {
  const garments = item.images.flatMap((image) => image.garments ?? []);
  if (garments.length === 0) return null;
  return garments.map((g) => (g.colour ? `${g.colour} ${g.label}` : g.label)).join(', ');
}

export function initProduct(): ProductView {
  const panel = byId('panel-product');
  /** Only the latest product asked for is shown. */
  let latest = 0;

  function backLink(back: () => void): HTMLElement {
    const link = el('a', { href: '#buy', class: 'back-link' }, TEXT.back);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      back();
    });
    return link;
  }

  function strip(className: string, title: string, body: Promise<HTMLElement[]>): HTMLElement {
    const headingId = `product-${className}-title`;
    const list = el('div', { class: 'strip', 'aria-busy': 'true' });
    void body.then((cards) => {
      list.replaceChildren(...cards);
      list.setAttribute('aria-busy', 'false');
    });
    return el('section', { class: `product-strip ${className}`, 'aria-labelledby': headingId }, el('h3', { id: headingId }, title), list);
  }

  function emptyNote(text: string): HTMLElement[] {
    return [el('p', { class: 'empty' }, text)];
  }

  function similarCards(answer: Promise<ListResponse>): Promise<HTMLElement[]> {
    return answer.then(
      ({ results }) => (results.length === 0 ? emptyNote(TEXT.nothingSimilar) : results.map((hit) => stripCard(hit))),
      (error: unknown) => emptyNote(errorText(error)),
    );
  }

  function seenCards(answer: Promise<SeenTogetherResponse>): Promise<HTMLElement[]> {
    return answer.then(
      ({ results, note }) => (results.length === 0 ? emptyNote(`${TEXT.nothingSeenTogether} ${note ?? ''}`.trim()) : results.map((item) => stripCard(item, TEXT.seenIn(item.count)))),
      (error: unknown) => emptyNote(errorText(error)),
    );
  }

  function render(item: Product, back: () => void, similarAnswer: Promise<ListResponse>, seenAnswer: Promise<SeenTogetherResponse>): void {
    const heading = el('h2', { id: 'product-title', tabindex: '-1' }, item.title);
    const photos = item.images.length > 0 ? item.images : [{ url: null }];
    const gallery = el('div', { class: 'gallery' }, ...photos.map((image, i) => picture(image.url, item.title, TEXT.photoOf(item.title, i + 1, photos.length))));
    const attributes = Object.entries(item.attributes).flatMap(([name, value]): Array<[string, string]> => {
      const text = attributeText(value);
      return text === null ? [] : [[fieldName(name), text]];
    });
    const labels = modelLabels(item);
    const garments = garmentsText(item);
    const info = el('div', { class: 'product-info' },
      heading,
      ...(item.price !== null ? [el('p', { class: 'product-price' }, formatPrice(item))] : []),
      ...(item.description ? [el('h3', {}, TEXT.description), el('p', { class: 'description' }, item.description)] : []),
      ...(attributes.length > 0 ? [el('h3', {}, TEXT.details), definitions(attributes)] : []),
      ...(labels.length > 0 ? [el('h3', {}, TEXT.modelLabels), definitions(labels)] : []),
      ...(garments ? [el('h3', {}, TEXT.garments), el('p', {}, garments)] : []),
    );
    panel.replaceChildren(
      backLink(back),
      el('article', { class: 'product', 'data-id': item.id }, gallery, info),
      strip('similar', TEXT.similar, similarCards(similarAnswer)),
      strip('seen-together', TEXT.seenTogether, seenCards(seenAnswer)),
    );
    document.title = `${item.title} · ${PAGE_TITLE}`;
    heading.focus();
  }

  function renderGone(back: () => void): void {
    const heading = el('h2', { id: 'product-title', tabindex: '-1' }, TEXT.productGone);
    panel.replaceChildren(backLink(back), heading, el('p', { class: 'hint' }, TEXT.productGoneHint));
    heading.focus();
  }

  return {
    show(id, back) {
      const ticket = ++latest;
      panel.hidden = false;
      panel.replaceChildren(backLink(back), el('p', { class: 'status', role: 'status' }, TEXT.productLoading));
      window.scrollTo(0, 0);
      // The strips are asked for at once; they fill in when they come, after the product.
      const similarAnswer = similar(id, STRIP_SIZE);
      const seenAnswer = seenTogether(id, STRIP_SIZE);
      // Settled here too, so a product that is gone leaves no unhandled rejection behind.
      similarAnswer.catch(() => undefined);
      seenAnswer.catch(() => undefined);
      Promise.all([fetchProduct(id), loadFieldTitles()]).then(
        ([item]) => {
          if (ticket === latest) render(item, back, similarAnswer, seenAnswer);
        },
        (error: unknown) => {
          if (ticket !== latest) return;
          if (error instanceof ApiError && error.status === 404) renderGone(back);
          else panel.replaceChildren(backLink(back), el('p', { class: 'status error', role: 'status' }, errorText(error)));
        },
      );
    },
    hide() {
      latest++;
      panel.hidden = true;
      panel.replaceChildren();
      document.title = PAGE_TITLE;
    },
  };
}
