// The page: two tabs (Sell, Buy) over the same API.
import { initBuy } from './buy.ts';
import { byId } from './dom.ts';
import { initLook } from './look.ts';
import { initSell } from './sell.ts';

type Tab = 'sell' | 'buy';

function selectTab(tab: Tab, focus = false): void {
  for (const name of ['sell', 'buy'] as const) {
    const button = byId(`tab-${name}`);
    const selected = name === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    byId(`panel-${name}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (location.hash !== `#${tab}`) history.replaceState(null, '', `#${tab}`);
}

function initTabs(): void {
  const tabs: Tab[] = ['sell', 'buy'];
  tabs.forEach((tab, i) => {
    const button = byId(`tab-${tab}`);
    button.addEventListener('click', () => selectTab(tab));
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    button.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const next = tabs[(i + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]!;
      selectTab(next, true);
      event.preventDefault();
    });
  });
  selectTab(location.hash === '#buy' ? 'buy' : 'sell');
}

initTabs();
const buy = initBuy();
initLook(buy);
initSell((title) => {
  selectTab('buy');
  buy.searchWords(title);
});
