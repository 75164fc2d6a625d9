// One browser for page tests over plain HTTP: its cookies, requests that never follow redirects,
// the CSRF field of a page and the sign-in form.

export class Browser {
  cookies = new Map<string, string>();
  setCookies: string[] = [];
  constructor(private readonly base: string) {}

  async request(method: string, urlPath: string, form?: Record<string, string>): Promise<Response> {
    const res = await fetch(`${this.base}${urlPath}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(this.cookies.size ? { Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    this.setCookies = res.headers.getSetCookie();
    for (const line of this.setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || attrs.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
  get = (urlPath: string) => this.request('GET', urlPath);
  post = (urlPath: string, form: Record<string, string>) => this.request('POST', urlPath, form);

  /** The `csrf` hidden field of a page. */
  async csrf(urlPath = '/'): Promise<string> {
    const page = await (await this.get(urlPath)).text();
    const m = /name="csrf" value="([^"]+)"/.exec(page);
    if (!m) throw new Error(`no csrf field on ${urlPath}:\n${page}`);
    return m[1];
  }

  async signIn(username: string, password: string, next?: string): Promise<Response> {
    const token = await this.csrf('/login');
    return this.post('/login', { csrf: token, username, password, ...(next ? { next } : {}) });
  }

  /** Whether the pages see this browser signed in as `name`. */
  async signedInAs(name: string): Promise<boolean> {
    return (await (await this.get('/')).text()).includes(`Signed in as <strong>${name}</strong>`);
  }
}
