/**
 * The run's renderers: each takes plain result data and returns text; the CLI writes the files and prints.
 */
export { renderSummary, type SummaryOptions } from './console.js';
export { hgrmFiles, type HgrmFile } from './hgrm.js';
export { renderHtml } from './html.js';
export { renderJson } from './json.js';
export { JTL_COLUMNS, JTL_HEADER, renderJtl, renderJtlRows, type JtlContext } from './jtl.js';
export { renderMarkdown } from './markdown.js';
export { renderProgressLine, renderProgressLog, type ProgressOptions, type ProgressView } from './progress.js';
