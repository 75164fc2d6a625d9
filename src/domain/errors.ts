/** An error whose message is meant for the user and says what to do; `status` is its HTTP answer. */
export class HubgateError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HubgateError(message, 400);
export const notFound = (message: string) => new HubgateError(message, 404);
export const conflict = (message: string) => new HubgateError(message, 409);
