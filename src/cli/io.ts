/** The streams a command uses; the process's own in `main.ts`. */
export interface Io {
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}
