// Shop the look: one outfit photo -> each garment the server finds in it (label, colour,
// share of the photo), largest first, with the catalog products like it (exact or
// similar). The result cards are the buy page's own, with their actions.
import { ApiError, shopTheLook } from './api.ts';
import type { Buy } from './buy.ts';
import { byId, el, percent, setStatus } from './dom.ts';
import { errorText } from './sell.ts';
import type { LookGarment } from './types.ts';

/** The palette the server names colours with (src/image/colour-names.ts); swatches are styled per name. */
const PALETTE = new Set(['black', 'white', 'grey', 'silver', 'red', 'maroon', 'pink', 'orange', 'yellow', 'beige', 'brown', 'green', 'light green', 'olive', 'teal', 'blue', 'navy', 'purple']);

function swatchClass(colour: string | null): string {
  return colour && PALETTE.has(colour) ? `swatch c-${colour.replace(/\s+/g, '-')}` : 'swatch';
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function lookError(error: unknown): string {
  if (error instanceof ApiError && error.code === 'unavailable') {
    const colon = error.message.indexOf(': ');
    return `Shop the look isn't available right now${colon >= 0 ? `: ${error.message.slice(colon + 2)}` : '.'}`;
  }
  return errorText(error);
}

export function initLook(buy: Buy): void {
  const fileInput = byId<HTMLInputElement>('look-file');
  const colourBox = byId<HTMLInputElement>('look-colour');
  const note = byId('look-note');
  const status = byId('look-status');
  const garments = byId('look-garments');

  let photo: File | null = null;
  /** Only the latest request's answer is shown. */
  let latest = 0;

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    photo = file;
    void run(file);
  });

  colourBox.addEventListener('change', () => {
    if (photo) void run(photo);
  });

  async function run(file: File): Promise<void> {
    const ticket = ++latest;
    note.textContent = `Your photo: ${file.name}`;
    setStatus(status, 'Looking for each garment…');
    garments.setAttribute('aria-busy', 'true');
    try {
      const answer = await shopTheLook(file, { matchColour: colourBox.checked });
      if (ticket !== latest) return;
      garments.replaceChildren(...answer.garments.map(garmentSection));
      const n = answer.garments.length;
      setStatus(
        status,
        n === 0
          ? 'No garments found in this photo. Try a photo of a whole outfit.'
          : `${n} garment${n === 1 ? '' : 's'} found${answer.matchColour ? ', each with products of its own colour' : ''}`,
        n === 0 ? 'info' : 'ok',
      );
    } catch (error) {
      if (ticket !== latest) return;
      garments.replaceChildren();
      setStatus(status, lookError(error), 'error');
    } finally {
      if (ticket === latest) garments.setAttribute('aria-busy', 'false');
    }
  }

  function garmentSection(garment: LookGarment, index: number): HTMLElement {
    const id = `look-garment-${index}`;
    const colour = garment.colour ? `${garment.colour} (${percent(garment.colourShare)} of it)` : 'colour not measured';
    const matched = garment.filters.colour;
    const results =
      garment.results.length === 0
        ? el('p', { class: 'empty' }, matched ? `No ${matched} products like this ${garment.label} yet.` : `No products like this ${garment.label} yet.`)
        : el('ul', { class: 'results', 'aria-label': `Products like the ${garment.label}` }, ...garment.results.map((hit) => buy.card(hit)));
    return el(
      'section',
      { class: 'garment', 'aria-labelledby': id, 'data-label': garment.label, 'data-colour': garment.colour ?? '' },
      el('h4', { id }, el('span', { class: swatchClass(garment.colour), 'aria-hidden': 'true' }), capitalise(garment.label)),
      el('p', { class: 'garment-meta' }, el('span', { class: 'colour-name' }, colour), ` · ${percent(garment.areaShare)} of the photo`),
      results,
    );
  }
}
