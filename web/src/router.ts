// Hash routes (`#/jobs/job_…`): the server only has to serve one page, and a reload keeps the
// place. Each page gets a context whose timers stop when the page is left.

export interface PageContext {
  /** Aborted when the user navigates away. */
  signal: AbortSignal;
  /** Runs `task` now and then every `ms` until the page is left; a run never overlaps the next. */
  every(ms: number, task: () => Promise<boolean | void>): void;
}

export type Page = (root: HTMLElement, params: string[], context: PageContext) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  page: Page;
}

const routes: Route[] = [];

export function route(pattern: RegExp, page: Page): void {
  routes.push({ pattern, page });
}

export function navigate(path: string): void {
  if (location.hash === `#${path}`) void render();
  else location.hash = path;
}

/** The route's path, without its `?query`. */
export function currentPath(): string {
  return location.hash.replace(/^#/, "").split("?")[0] || "/";
}

let controller: AbortController | null = null;
let guard: (path: string) => string | null = () => null;

/** `check` may redirect (to the login page) by returning another path. */
export function setGuard(check: (path: string) => string | null): void {
  guard = check;
}

export async function render(): Promise<void> {
  controller?.abort();
  const current = new AbortController();
  controller = current;
  const path = currentPath();
  const redirect = guard(path);
  if (redirect !== null && redirect !== path) {
    navigate(redirect);
    return;
  }
  const root = document.getElementById("main") as HTMLElement;
  root.replaceChildren();
  const context: PageContext = {
    signal: current.signal,
    every(ms, task) {
      const tick = async () => {
        if (current.signal.aborted) return;
        let again = true;
        try {
          again = (await task()) !== false;
        } catch (error) {
          console.error(error);
        }
        if (again && !current.signal.aborted) setTimeout(tick, ms);
      };
      void tick();
    },
  };
  for (const { pattern, page } of routes) {
    const match = pattern.exec(path);
    if (match) {
      await page(root, match.slice(1), context);
      document.dispatchEvent(new CustomEvent("pagechange", { detail: path }));
      return;
    }
  }
  root.textContent = "There is no such page.";
}

export function start(): void {
  window.addEventListener("hashchange", () => void render());
  void render();
}
