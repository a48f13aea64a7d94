export {
  type ExportDataFile,
  type ExportManifest,
  type ExportSummary,
  findExportSummaryKey,
  readExportManifest,
} from './exportManifest.js';
export {
  DEFAULT_EXPORT_READ,
  type ExportBootstrapResult,
  type ReadTableExportOptions,
  readTableExport,
} from './readTableExport.js';
