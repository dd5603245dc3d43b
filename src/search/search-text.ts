// Text search: the query is parsed into filters (predicted labels, price) and terms; terms
// are matched on title + description with LanceDB's full-text index (BM25), filters are an
// SQL predicate built safely. Ranking blends text relevance with the model's confidence in
// the filtered labels, and every result says why it is there.

import { MultiMatchQuery, type FullTextQuery } from '@lancedb/lancedb';
import { GroknetError } from '../errors.ts';
import type { CatalogInfo, CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { computeFacets } from './facets.ts';
import { buildWhere, filterFields, GARMENT_FIELD, validateFilters } from './filters.ts';
import { normalisePhrase, parseQuery, singular } from './parse-query.ts';
import { checkLimit, explainFilters, groupByProduct, resultColumns, toResult, type Candidate, type Row } from './results.ts';
import type { Filters, SearchQuery, SearchResponse, SearchResult } from './types.ts';

/** Rows considered before ranking; facets are counted over these. */
export const TEXT_CANDIDATES = 1000;
/** Hybrid weights: text relevance vs confidence of the predicted labels the query filtered on. */
const TEXT_WEIGHT = 0.7;
const LABEL_WEIGHT = 0.3;

export interface TextSearchOptions {
  limit?: number;
  /** Structured filters, merged with (and overriding) those parsed from the text. */
  filters?: Filters;
  /** Also return products that match the filters but none of the words (ranked below). Default true. */
  includeFilterOnly?: boolean;
}

function words(text: string): Set<string> {
  return new Set(normalisePhrase(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean).map(singular));
}

/** Which terms appear in title / description, for `why`. */
function explainTerms(candidate: Candidate, terms: readonly string[]): string[] {
  const title = words(candidate.title);
  const description = words(candidate.description);
  const why: string[] = [];
  for (const term of terms) {
    const parts = [...words(term)];
    if (parts.length === 0) continue;
    if (parts.every((p) => title.has(p))) why.push(`title matches "${term}"`);
    else if (parts.every((p) => description.has(p))) why.push(`description matches "${term}"`);
  }
  return why;
}

/** Mean model confidence of the labels the filters asked for (1 when no label was asked for). */
function labelConfidence(candidate: Candidate, filters: Filters, info: CatalogInfo): number {
  const fields = filterFields(info);
  const scores = Object.keys(filters)
    .map((key) => fields.get(key)?.head)
    .filter((head): head is string => head !== undefined)
    .map((head) => candidate.labels[head]?.score ?? 0);
  return scores.length === 0 ? 1 : scores.reduce((a, b) => a + b, 0) / scores.length;
}

/** Terms reach the FTS engine as plain words only: no operators, no quotes. */
function ftsQuery(terms: readonly string[]): FullTextQuery {
  const text = terms.join(' ').replace(/[^\p{L}\p{N}\s-]+/gu, ' ');
  return new MultiMatchQuery(text, [COLUMNS.title, COLUMNS.description]);
}

export async function searchText(catalog: CatalogStore, text: string, options: TextSearchOptions = {}): Promise<SearchResponse> {
  if (typeof text !== 'string') throw new GroknetError('query_invalid', 'query must be text');
  const limit = checkLimit(options.limit, 20);
  const info = await catalog.info();
  const explicit = validateFilters(options.filters, info);
  // Garment pairs only where rows have garment columns: older catalogs pay nothing for them.
  const [vocabularies, garments] = await Promise.all([catalog.vocabularies(), info.garments ? catalog.garmentVocabulary() : undefined]);
  // Garment labels are one more vocabulary ("dress" -> garment=dress), after the heads': a
  // head that knows the word keeps it, as a head keeps its filter field (filters.ts).
  const words = garments && garments.labels.length > 0 && !(GARMENT_FIELD in vocabularies) ? { ...vocabularies, [GARMENT_FIELD]: garments.labels } : vocabularies;
  const parsed = parseQuery(text, words, garments?.pairs);
  const filters: Filters = { ...parsed.filters, ...explicit };
  const query: SearchQuery = { kind: 'text', text, filters, terms: parsed.terms, recognised: parsed.recognised, limit };
  if (parsed.terms.length === 0 && Object.keys(filters).length === 0) {
    throw new GroknetError('query_invalid', 'the query has no words or filters to search for');
  }
  const table = await catalog.table();
  if (!table) return { query, results: [], facets: {} };

  const where = buildWhere(filters, info);
  const columns = resultColumns(info);
  const terms = parsed.terms;

  let textRows: Row[] = [];
  if (terms.length > 0) {
    if (await catalog.hasTextIndex()) {
      let search = table.query().fullTextSearch(ftsQuery(terms)).select([...columns, '_score']).limit(TEXT_CANDIDATES);
      if (where) search = search.where(where);
      textRows = await search.toArray();
    } else {
      // No index yet (optimize has not run): match words in JS over the filtered rows.
      let scan = table.query().select(columns).limit(TEXT_CANDIDATES * 10);
      if (where) scan = scan.where(where);
      textRows = (await scan.toArray())
        .map((row) => ({ ...row, _score: explainTerms(groupByProduct([row], info, () => 0)[0]!, terms).length }))
        .filter((row) => row._score > 0);
    }
  }
  const textMatches = groupByProduct(textRows, info, (row) => Number(row._score ?? 0));
  const best = Math.max(...textMatches.map((c) => c.raw), 0) || 1;

  let filterOnly: Candidate[] = [];
  if (where && (terms.length === 0 || options.includeFilterOnly !== false)) {
    const rows = await table.query().where(where).select(columns).limit(TEXT_CANDIDATES).toArray();
    const seen = new Set(textMatches.map((c) => c.id));
    filterOnly = groupByProduct(rows, info, () => 0).filter((c) => !seen.has(c.id));
  }

  const ranked: Array<{ candidate: Candidate; result: SearchResult }> = [];
  for (const candidate of textMatches) {
    const score = TEXT_WEIGHT * (candidate.raw / best) + LABEL_WEIGHT * labelConfidence(candidate, filters, info);
    const why = [...explainTerms(candidate, terms), ...explainFilters(candidate, filters, info)];
    if (why.length === 0) why.push(`text relevance ${candidate.raw.toFixed(2)}`);
    ranked.push({ candidate, result: toResult(candidate, score, 'text', why) });
  }
  for (const candidate of filterOnly) {
    const score = LABEL_WEIGHT * labelConfidence(candidate, filters, info);
    const why = explainFilters(candidate, filters, info);
    if (terms.length > 0) why.push(`no title or description match for ${terms.map((t) => `"${t}"`).join(' ')}`);
    ranked.push({ candidate, result: toResult(candidate, score, 'filter', why) });
  }
  ranked.sort((a, b) => b.result.score - a.result.score || (a.candidate.id < b.candidate.id ? -1 : 1));
  return {
    query,
    results: ranked.slice(0, limit).map((r) => r.result),
    facets: computeFacets(ranked.map((r) => r.candidate)),
  };
}
