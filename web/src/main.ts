// The page: two tabs (Sell, Buy) and a product page (#/product/ID) over the same API.
// The address says which: #sell, #buy or #/product/ID, so a product can be linked to and
// the browser's back button works.
import { initBuy } from './buy.ts';
import { byId } from './dom.ts';
import { initLook } from './look.ts';
import { initProduct } from './product.ts';
import { initSell } from './sell.ts';

type Tab = 'sell' | 'buy';
const TABS: Tab[] = ['sell', 'buy'];
const PRODUCT_ROUTE = /^#\/product\/(.+)$/;

const productView = initProduct();

/**
 * How many in-page entries lie behind this history entry (kept in history.state, so it
 * survives back and forward): the back link goes back only when there is one, else to Buy.
 */
let depth = 0;
let firstRoute = true;

function entryDepth(): number {
  const state: unknown = history.state;
  if (state !== null && typeof state === 'object' && 'depth' in state && typeof state.depth === 'number') return state.depth;
  const entry = firstRoute ? 0 : depth + 1;
  history.replaceState({ depth: entry }, '', location.href);
  return entry;
}

function selectTab(tab: Tab, focus = false): void {
  productView.hide();
  for (const name of TABS) {
    const button = byId(`tab-${name}`);
    const selected = name === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    byId(`panel-${name}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (location.hash !== `#${tab}`) history.replaceState(history.state, '', `#${tab}`);
}

function showProduct(id: string): void {
  // No tab is selected on a product page; the last one stays the tab key's way into the list.
  for (const name of TABS) {
    byId(`tab-${name}`).setAttribute('aria-selected', 'false');
    byId(`panel-${name}`).hidden = true;
  }
  productView.show(id, () => {
    if (depth > 0) history.back();
    else location.hash = '#buy';
  });
}

function route(): void {
  depth = entryDepth();
  firstRoute = false;
  const product = PRODUCT_ROUTE.exec(location.hash);
  if (product) {
    let id = product[1]!;
    try {
      id = decodeURIComponent(id);
    } catch {
      // A hand-typed address with a stray %: the id as written.
    }
    showProduct(id);
  } else {
    selectTab(location.hash === '#buy' ? 'buy' : 'sell');
  }
}

function initTabs(): void {
  TABS.forEach((tab, i) => {
    const button = byId(`tab-${tab}`);
    button.addEventListener('click', () => selectTab(tab));
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    button.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const next = TABS[(i + (event.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!;
      selectTab(next, true);
      event.preventDefault();
    });
  });
}

initTabs();
const buy = initBuy();
initLook(buy);
initSell((title) => {
  selectTab('buy');
  buy.searchWords(title);
});
window.addEventListener('hashchange', route);
route();
