// A git file's cached copy is sent as every file download is (src/util/send-file.ts).
export { sendFileRange as sendFileBody } from '../../util/send-file.js';
