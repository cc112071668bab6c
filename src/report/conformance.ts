/**
 * The renderers of `mqbench conformance`: each takes a ConformanceReport and returns text; the CLI writes the files
 * and prints.
 */
export { renderConformanceSummary, type ConformanceSummaryOptions } from './conformance-console.js';
export { verdictOf, type Verdict, type VerdictWord } from './conformance-facts.js';
export { renderConformanceJson } from './conformance-json.js';
export { ALLOWED_MARK, renderJUnit, type JUnitOptions } from './conformance-junit.js';
export { renderConformanceMatrix, type MatrixFormat } from './conformance-matrix.js';
export type { ConformanceReport, ConformanceRun } from './conformance-model.js';
