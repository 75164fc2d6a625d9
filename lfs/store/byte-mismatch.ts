/** The bytes a client sent are not the ones it announced (size, sha256, part order): a 400, nothing kept. */
export class ByteMismatch extends Error {}
