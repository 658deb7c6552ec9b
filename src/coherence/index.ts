// The coherence suite's public surface.
export { runCoherenceSuite, DEFAULT_DIALOGUE_COUNT, DEFAULT_MAX_NLL_RATIO, DEFAULT_TOLERANCE } from './suite.js';
export { DEFAULT_DIALOGUES } from './dialogues.js';
export { RECALL_PROBES, type RecallProbe } from './recall.js';
export type { CheckName, CheckResult, CheckStatus, CoherenceOptions, CoherenceProcessor, CoherenceReport, DialogueRecord, Json } from './types.js';
