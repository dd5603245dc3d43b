// Pieces every product card shares: the picture (a placeholder when there is no photo URL,
// or the photo fails to load, e.g. its file is gone: never a broken-image icon), the price, and the link to
// the product's own page.
import { el } from './dom.ts';
import { TEXT } from './messages.ts';

export function productHref(id: string): string {
  return `#/product/${encodeURIComponent(id)}`;
}

export function formatPrice(item: { price: number | null; currency: string | null }): string {
  if (item.price === null) return '';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: item.currency ?? 'EUR' }).format(item.price);
  } catch {
    return `${item.price} ${item.currency ?? ''}`.trim();
  }
}

function placeholder(label: string): HTMLElement {
  return el('div', { class: 'no-image', role: 'img', 'aria-label': label }, el('span', { class: 'no-image-mark', 'aria-hidden': 'true' }), TEXT.noPhoto);
}

/** The photo at `url`, or a placeholder named after `title`; `alt` describes the photo itself. */
export function picture(url: string | null, title: string, alt = title): HTMLElement {
  if (!url) return placeholder(TEXT.noPhotoLabel(title));
  const img = el('img', { src: url, alt, loading: 'lazy' });
  img.addEventListener('error', () => img.replaceWith(placeholder(TEXT.noPhotoLabel(title))), { once: true });
  return img;
}

/**
 * Makes the whole card open the product's page, as its title link does: a click anywhere
 * but on the card's own buttons and links. The title link stays the keyboard's way in.
 */
export function opensProduct(card: HTMLElement, id: string): void {
  card.classList.add('linked');
  card.addEventListener('click', (event) => {
    if ((event.target as Element).closest('button, a, input, select, label')) return;
    location.hash = productHref(id);
  });
}

export function titleLink(id: string, title: string): HTMLAnchorElement {
  return el('a', { href: productHref(id), class: 'card-link' }, title);
}

export interface CardItem {
  id: string;
  title: string;
  image: string | null;
  price: number | null;
  currency: string | null;
}

/** A small card for strips (seen together, similar): picture, title, price, an optional count line. */
export function stripCard(item: CardItem, count?: string): HTMLElement {
  const node = el('div', { class: count === undefined ? 'card' : 'card seen', 'data-id': item.id },
    picture(item.image, item.title),
    el('div', { class: 'body' },
      el('h3', {}, titleLink(item.id, item.title)),
      ...(count !== undefined ? [el('p', { class: 'count' }, count)] : []),
      ...(item.price !== null ? [el('p', { class: 'price' }, formatPrice(item))] : [])),
  );
  opensProduct(node, item.id);
  return node;
}
