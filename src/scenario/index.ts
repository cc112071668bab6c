/** The scenario module's public face: load and validate a scenario, apply command-line overrides, plan a run. */
export { COMMAND_LINE, formatProblems, ScenarioError, type ScenarioProblem } from './errors.js';
export { applyOverrides, loadScenarioFile, loadScenarioText, type LoadOptions, type LoadResult, type ScenarioOverrides } from './load.js';
export { clientRatePerSec, clientStartOffsetMs, planRun, resolveWorkerCount, type PlannedClient, type PlanOptions, type RunPlan, type WorkerPlan } from './plan.js';
export * from './schema.js';
export { bindTemplate, renderBound, renderTemplate, SEQ_PART, type BoundTemplate, type ClientVars, type MessagePart, type Template } from './templates.js';
