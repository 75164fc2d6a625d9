// The resolve route's ranges and ETag checks are the ones every file download uses (src/util/byte-range.ts).
export { type ByteRange, type RangeAnswer, etagMatches, rangeOf } from '../../util/byte-range.js';
