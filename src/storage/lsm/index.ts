/** The LSM storage engine: `openLsmEngine({ dir, vfs?, ... })`. */
export { openLsmEngine, LsmEngine, type LsmOptions } from './lsm-engine.ts';
export { pickCompaction, levelScores, type Pick, type PickerOptions, type PickerTable } from './compaction-picker.ts';
