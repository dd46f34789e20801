// The API client: every call carries the session's key; errors become `ApiError` with the
// server's `{detail: {status, message}}`.

import { currentKey } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server no longer accepts the key (revoked, expired session). */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function headers(extra?: HeadersInit, key = currentKey()): Headers {
  const result = new Headers(extra);
  if (key) result.set("Authorization", `Bearer ${key}`);
  return result;
}

async function failure(response: Response): Promise<ApiError> {
  let code = "error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.detail?.message) {
      code = body.detail.status ?? code;
      message = body.detail.message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401) onUnauthorized();
  return new ApiError(response.status, code, message);
}

async function send(path: string, init: RequestInit = {}, key?: string): Promise<Response> {
  const response = await fetch(path, { ...init, headers: headers(init.headers, key) });
  if (!response.ok) throw await failure(response);
  return response;
}

/** A JSON call; `body` is sent as JSON. `undefined` for 204 answers. */
export async function api<T>(
  path: string,
  options: { method?: string; body?: unknown; key?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const init: RequestInit = { method: options.method ?? "GET", signal: options.signal };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { "Content-Type": "application/json" };
  }
  const response = await send(path, init, options.key);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A binary answer (audio, exports). */
export async function apiBlob(path: string): Promise<Blob> {
  return (await send(path)).blob();
}

/** A multipart upload with progress (fetch cannot report upload progress; XHR can). */
export function upload<T>(
  path: string,
  form: FormData,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    const key = currentKey();
    if (key) request.setRequestHeader("Authorization", `Bearer ${key}`);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body: { detail?: { status?: string; message?: string } } | null = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = null;
      }
      if (request.status >= 200 && request.status < 300) {
        resolve(body as T);
      } else {
        if (request.status === 401) onUnauthorized();
        reject(
          new ApiError(
            request.status,
            body?.detail?.status ?? "error",
            body?.detail?.message ?? `${request.status} ${request.statusText}`,
          ),
        );
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network", "the upload failed: the server could not be reached")));
    request.send(form);
  });
}

/** Saves a blob as a file through a temporary link. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
