/**
 * The conformance matrix people read, as Markdown (conformance.md) or as one self-contained HTML page
 * (conformance.html).
 */
import { renderConformanceHtml } from './conformance-html.js';
import { renderConformanceMarkdown } from './conformance-markdown.js';
import type { ConformanceReport } from './conformance-model.js';

export type MatrixFormat = 'markdown' | 'html';

export function renderConformanceMatrix(report: ConformanceReport, format: MatrixFormat): string {
  return format === 'html' ? renderConformanceHtml(report) : renderConformanceMarkdown(report);
}
