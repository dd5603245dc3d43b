// Sell: a photo -> the suggested listing fills the form (unsure fields marked) -> publish.
// Each photo starts from a clean form: nothing of the last photo's suggestions or of the
// last published listing carries over to the next product.
import { analyze, ApiError, publish, storedKey, storeKey, type ShownSuggestions } from './api.ts';
import { byId, el, percent, setStatus } from './dom.ts';
import { describeError, NOT_AN_IMAGE, UNREADABLE_CODES } from './messages.ts';
import { fieldName, loadFieldTitles } from './fields.ts';
import type { ListingField, Product, SuggestedListing } from './types.ts';

type Suggestion = Pick<ListingField, 'score' | 'abstain' | 'source'> | null;

/** Below this, a suggestion the model did not abstain on is still worth a second look. */
const LOW_CONFIDENCE = 0.6;

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return describeError(error.code, error.message);
  return 'Something went wrong. Try again.';
}

/** Opens the key dialog; resolves with the key, or null when cancelled. */
function askForKey(): Promise<string | null> {
  const dialog = byId<HTMLDialogElement>('key-dialog');
  const input = byId<HTMLInputElement>('key-input');
  input.value = '';
  dialog.returnValue = '';
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' && input.value.trim() ? input.value.trim() : null), { once: true });
  });
}

export function initSell(showInBuy: (text: string) => void): void {
  const fileInput = byId<HTMLInputElement>('sell-file');
  const drop = byId('sell-drop');
  const status = byId('sell-status');
  const preview = byId<HTMLImageElement>('sell-preview');
  const form = byId<HTMLFormElement>('sell-form');
  const attributesBox = byId('f-attributes');
  const publishButton = byId<HTMLButtonElement>('publish');
  const garmentsBox = byId<HTMLInputElement>('f-garments');
  const done = byId('sell-done');
  /** The photo to publish: set only once the server has read it. */
  let photo: File | null = null;
  let previewUrl: string | null = null;
  /** Only the latest photo's answer fills the form. */
  let latest = 0;
  /** The suggestions the form was filled with, sent with the publish so the catalog records what the seller kept. */
  let shown: ShownSuggestions | undefined;
  publishButton.disabled = true;

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void choose(file);
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file) void choose(file);
  });

  async function choose(file: File): Promise<void> {
    const ticket = ++latest;
    photo = null;
    publishButton.disabled = true;
    clearSuggestions();
    // The outfit box is about the photo: a boot must not go out with the last outfit's garments.
    garmentsBox.checked = false;
    form.hidden = true;
    done.hidden = true;
    hidePreview();
    // A file the browser itself calls text, a PDF...: no need to ask the server.
    if (file.type && !file.type.startsWith('image/')) {
      setStatus(status, NOT_AN_IMAGE, 'error');
      return;
    }
    let refused = false;
    void showPreviewIfReadable(file, () => ticket === latest && !refused);
    setStatus(status, 'Looking at your photo…');
    try {
      const [result] = await Promise.all([analyze(file), loadFieldTitles()]);
      if (ticket !== latest) return;
      photo = file;
      fill(result.listing);
      shown = shownSuggestions(result.modelVersion, result.listing);
      form.hidden = false;
      publishButton.disabled = false;
      const unsure = form.querySelectorAll('.field.unsure').length;
      setStatus(status, unsure > 0 ? `Suggestions ready. Please check the ${unsure} field${unsure > 1 ? 's' : ''} marked "check".` : 'Suggestions ready. Edit anything, then publish.', 'ok');
    } catch (error) {
      if (ticket !== latest) return;
      refused = error instanceof ApiError && UNREADABLE_CODES.has(error.code);
      if (refused) hidePreview();
      setStatus(status, refused ? NOT_AN_IMAGE : errorText(error), 'error');
    }
  }

  /**
   * Shows the photo only once the browser has decoded it, so a corrupt file never shows a
   * broken image. A format the browser cannot show but the server reads just has no preview.
   */
  async function showPreviewIfReadable(file: File, stillWanted: () => boolean): Promise<void> {
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.src = url;
    const readable = await probe.decode().then(() => true, () => false);
    if (!readable || !stillWanted()) {
      URL.revokeObjectURL(url);
      return;
    }
    hidePreview();
    previewUrl = url;
    preview.src = url;
    preview.alt = 'The photo you chose';
    preview.hidden = false;
  }

  function hidePreview(): void {
    preview.hidden = true;
    preview.removeAttribute('src');
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
  }

  /** The model's suggestions and their notes go; what the seller typed (price, description) stays. */
  function clearSuggestions(): void {
    shown = undefined;
    for (const name of ['title', 'category', 'colour']) {
      const input = form.elements.namedItem(name);
      if (input instanceof HTMLInputElement) input.value = '';
    }
    for (const wrapper of form.querySelectorAll<HTMLElement>('.field')) {
      wrapper.classList.remove('unsure');
      const note = wrapper.querySelector('.note');
      if (note) note.textContent = '';
    }
    attributesBox.replaceChildren();
  }

  /** After a publish: the next product starts from an empty form (currency back to its default). */
  function resetForm(): void {
    form.reset();
    clearSuggestions();
    photo = null;
    fileInput.value = '';
    hidePreview();
    publishButton.disabled = true;
  }

  function fill(listing: SuggestedListing): void {
    setField('title', listing.title.value, listing.title.value ? listing.title : null);
    // Category hook: the seller's Category input starts from the model's suggested path when there is one
    // (what the seller keeps or changes is theirs); empty otherwise. Suggestion handling lives here.
    setField('category', listing.category ? listing.category.path.join(' > ') : '', listing.category);
    setField('colour', listing.colour?.value ?? '', listing.colour);
    attributesBox.replaceChildren();
    for (const [name, field] of Object.entries(listing.attributes)) attributesBox.append(attributeField(name, field.value, field));
    if (listing.tags.length > 0) {
      attributesBox.append(attributeField('tags', listing.tags.map((t) => t.value).join(', '), { score: Math.min(...listing.tags.map((t) => t.score)), abstain: false }));
    }
  }

  /** Each head that prefilled a field, with the label it put there (the title is made from them, not a head). */
  function shownSuggestions(modelVersion: string, listing: SuggestedListing): ShownSuggestions {
    const fields = [listing.category, listing.colour, ...Object.values(listing.attributes), ...listing.tags].filter((f): f is ListingField => f !== null);
    return { modelVersion, heads: fields.map((f) => ({ head: f.head, label: f.value, score: f.score })) };
  }

  function attributeField(name: string, value: string, suggestion: Suggestion): HTMLElement {
    const id = `f-attr-${name}`;
    const wrapper = el('div', { class: 'field', 'data-field': name, 'data-attribute': name },
      el('label', { for: id }, fieldName(name)),
      el('input', { id, name: `attr:${name}`, maxlength: '200', 'aria-describedby': `${id}-note` }),
      el('span', { class: 'note', id: `${id}-note` }),
    );
    markField(wrapper, value, suggestion);
    return wrapper;
  }

  function setField(name: string, value: string, suggestion: Suggestion): void {
    const wrapper = form.querySelector<HTMLElement>(`.field[data-field="${name}"]`);
    if (wrapper) markField(wrapper, value, suggestion);
  }

  function markField(wrapper: HTMLElement, value: string, suggestion: Suggestion): void {
    const input = wrapper.querySelector('input')!;
    const note = wrapper.querySelector('.note')!;
    input.value = value;
    const low = suggestion !== null && !suggestion.abstain && suggestion.score < LOW_CONFIDENCE;
    wrapper.classList.toggle('unsure', suggestion === null || suggestion.abstain || low);
    note.textContent = suggestion === null
      ? 'check: no suggestion, fill it in if you like'
      : suggestion.source === 'pixels'
        ? suggestion.abstain
          ? 'check: no one colour stands out in the photo, please confirm'
          : `measured from the photo: ${percent(suggestion.score)} of it is this colour`
        : suggestion.abstain
        ? `check: the model is not sure (${percent(suggestion.score)}), please confirm or correct`
        : low
          ? `check: only ${percent(suggestion.score)} sure, please confirm`
          : `suggested, ${percent(suggestion.score)} sure`;
  }

  function fieldValue(name: string): string {
    return (form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement | null)?.value.trim() ?? '';
  }

  // Once the seller has touched a suggested field, it is theirs: no longer marked unsure.
  form.addEventListener('input', (event) => {
    const wrapper = (event.target as HTMLElement).closest<HTMLElement>('.field[data-field]');
    const note = wrapper?.querySelector('.note');
    if (!wrapper || !note) return;
    wrapper.classList.remove('unsure');
    note.textContent = 'edited by you';
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });

  async function submit(): Promise<void> {
    if (!photo) return;
    const title = fieldValue('title');
    if (!title) {
      setStatus(status, 'Please give the product a title.', 'error');
      byId('f-title').focus();
      return;
    }
    const price = fieldValue('price').replace(',', '.');
    if (price && !/^\d+(\.\d{1,4})?$/.test(price)) {
      setStatus(status, 'The price should be a number, like 12.50.', 'error');
      byId('f-price').focus();
      return;
    }
    const attributes: Record<string, string | string[]> = {};
    const colour = fieldValue('colour');
    if (colour) attributes.colour = colour;
    for (const input of attributesBox.querySelectorAll<HTMLInputElement>('input')) {
      const name = input.name.replace(/^attr:/, '');
      const value = input.value.trim();
      if (value) attributes[name] = name === 'tags' ? value.split(/\s*,\s*/).filter(Boolean) : value;
    }
    // The category is the listing's own field (filtered and counted in the buy page's facets), not an attribute.
    const fields = { title, description: fieldValue('description'), price, currency: fieldValue('currency'), category: fieldValue('category'), attributes, ...(shown ? { suggested: shown } : {}) };

    const garments = garmentsBox.checked;
    publishButton.disabled = true;
    setStatus(status, 'Publishing…');
    try {
      const result = await publishAskingForKey(photo, fields, { garments });
      resetForm();
      showDone(result.product, garments);
    } catch (error) {
      // A server without clothing segmentation refuses the outfit option and stores nothing.
      const noSegmenter = garments && error instanceof ApiError && error.status === 503;
      setStatus(status, noSegmenter ? 'This service cannot find garments in photos right now. Untick “Outfit photo” to publish without them.' : errorText(error), 'error');
    } finally {
      publishButton.disabled = photo === null;
    }
  }

  async function publishAskingForKey(file: File, fields: Parameters<typeof publish>[1], options: Parameters<typeof publish>[2]) {
    for (;;) {
      try {
        return await publish(file, fields, options);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 'unauthorized') throw error;
        if (storedKey()) storeKey(null); // the stored key was wrong
        setStatus(status, 'Publishing needs the API key.');
        const key = await askForKey();
        if (!key) throw new ApiError('unauthorized', 'Publishing cancelled: no API key given', 401);
        storeKey(key);
      }
    }
  }

  function showDone(product: Product, askedForGarments: boolean): void {
    setStatus(status, '');
    const see = el('button', { type: 'button', class: 'button small' }, 'See it in Buy');
    see.addEventListener('click', () => showInBuy(product.title));
    const message = el('p', { tabindex: '-1' }, `Published “${product.title}”.`);
    const parts: HTMLElement[] = [message];
    if (askedForGarments) {
      const garments = product.images.flatMap((image) => image.garments ?? []);
      const listed = garments.map((g) => (g.colour ? `${g.colour} ${g.label}` : g.label)).join(', ');
      parts.push(el('p', { id: 'sell-garments' }, garments.length > 0 ? `Garments listed: ${listed}.` : 'No garments were found in the photo.'));
    }
    done.replaceChildren(...parts, see);
    done.hidden = false;
    form.hidden = true;
    message.focus();
  }
}
