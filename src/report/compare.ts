/**
 * The renderers of `mqbench compare`: each takes a CompareResult and returns text; the CLI writes the files and
 * prints.
 */
export { renderCompareTable, type CompareTableOptions } from './compare-console.js';
export { renderCompareHtml } from './compare-html.js';
export { renderCompareJson } from './compare-json.js';
export { renderBenchmarksMarkdown } from './compare-markdown.js';
