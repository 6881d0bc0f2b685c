/** An error the user caused or can fix: printed as one line, no stack, with its exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
