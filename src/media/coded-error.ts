/** An error with a stable `code` (operators alert on codes: never rename one). Each layer's error class extends it. */
export class CodedError<C extends string> extends Error {
  readonly code: C;

  constructor(code: C, message: string) {
    super(message);
    this.code = code;
  }
}
