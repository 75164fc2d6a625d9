import type { Request, Response } from 'express';

// The pages' one stylesheet, served at /static/hubgate.css (the CSP allows no inline styles).

export const STYLESHEET = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1.5rem;border-bottom:1px solid #d0d7de;background:#f6f8fa}
header nav{display:flex;gap:1rem;align-items:center}
.brand{font-weight:700;color:#1f2328;text-decoration:none}
main{max-width:60rem;margin:1.5rem auto;padding:0 1.5rem}
a{color:#0969da}
h1{font-size:1.5rem;margin:.2rem 0 .8rem}
h2{font-size:1.2rem;margin:1.6rem 0 .6rem}
.badge{display:inline-block;font-size:.75rem;padding:.05rem .5rem;border:1px solid #d0d7de;border-radius:1rem;margin-left:.4rem;vertical-align:middle}
.notice{padding:.6rem .9rem;border-radius:.4rem;border:1px solid}
.notice.error{background:#ffebe9;border-color:#ff8182}
.notice.ok{background:#dafbe1;border-color:#4ac26b}
.notice.info{background:#ddf4ff;border-color:#54aeff}
.gate{border:1px solid #d0d7de;border-radius:.5rem;padding:1rem 1.2rem;margin:1rem 0;background:#f6f8fa}
.card{white-space:pre-wrap;word-wrap:break-word;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;background:#fff;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace}
code,.clone{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
.clone{display:block;padding:.5rem .8rem;background:#f6f8fa;border:1px solid #d0d7de;border-radius:.4rem;overflow-x:auto}
form.stack label{display:block;margin:.6rem 0}
form.stack input[type=text],form.stack input[type=password],form.stack input[type=email],form.stack input[type=date],form.stack select{display:block;width:100%;max-width:28rem;padding:.35rem .5rem;margin-top:.2rem;font:inherit}
form.inline{display:inline}
button{font:inherit;padding:.3rem .9rem;border-radius:.4rem;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer}
button.secondary{background:#f6f8fa;color:#1f2328;border-color:#d0d7de}
button.danger{background:#cf222e;border-color:#cf222e}
button.link{background:none;border:none;color:#0969da;padding:0;text-decoration:underline}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;border-bottom:1px solid #d0d7de;padding:.4rem .5rem;vertical-align:top}
dl.fields{margin:0}
dl.fields dt{font-weight:600}
dl.fields dd{margin:0 0 .3rem}
.muted{color:#59636e}
.secret{font:14px ui-monospace,monospace;padding:.6rem;background:#fff8c5;border:1px solid #d4a72c;border-radius:.4rem;word-break:break-all}
fieldset{border:1px solid #d0d7de;border-radius:.4rem;margin:.6rem 0}
ul.commits{list-style:none;padding:0;margin:0;border:1px solid #d0d7de;border-radius:.5rem}
li.commit{display:flex;flex-wrap:wrap;gap:.2rem 1rem;align-items:baseline;padding:.5rem .8rem;border-bottom:1px solid #d0d7de}
li.commit:last-child{border-bottom:none}
li.commit .commit-title{font-weight:600;flex:1 1 20rem;word-break:break-word}
li.commit .sha{margin-left:auto}
nav.pager{display:flex;gap:1rem;justify-content:center;margin:1rem 0}
pre.commit-message{white-space:pre-wrap;word-wrap:break-word;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;border:1px solid #d0d7de;border-radius:.4rem;padding:.6rem .8rem}
section.diff-file{border:1px solid #d0d7de;border-radius:.5rem;margin:1rem 0;overflow:hidden}
section.diff-file h3{font:600 13px ui-monospace,SFMono-Regular,Menlo,monospace;margin:0;padding:.5rem .8rem;background:#f6f8fa;border-bottom:1px solid #d0d7de;word-break:break-all}
.diff-note{margin:0;padding:.5rem .8rem}
table.diff{margin:0;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;table-layout:fixed}
table.diff td{border:none;padding:0 .5rem;white-space:pre-wrap;word-break:break-all}
table.diff td.ln{width:3.5rem;text-align:right;color:#59636e;user-select:none;white-space:nowrap}
table.diff tr.add td{background:#e6ffec}
table.diff tr.del td{background:#ffebe9}
table.diff tr.hunk td{background:#ddf4ff;color:#59636e}
table.diff tr.nonl td{color:#59636e}
.repo-header h1 a.repo-id{color:#1f2328;text-decoration:none}
nav.tabs{display:flex;gap:.2rem;border-bottom:1px solid #d0d7de;margin:.4rem 0 1rem}
nav.tabs a.tab{padding:.4rem .9rem;text-decoration:none;color:#1f2328;border-bottom:2px solid transparent}
nav.tabs a.tab.active{border-bottom-color:#fd8c73;font-weight:600}
dl.metadata{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.6rem 0}
dl.metadata dt{font-weight:600}
dl.metadata dd{margin:0}
.tag{display:inline-block;font-size:.8rem;padding:0 .5rem;margin:0 .3rem .2rem 0;background:#f6f8fa;border:1px solid #d0d7de;border-radius:.3rem}
.markdown{border:1px solid #d0d7de;border-radius:.5rem;padding:1rem 1.4rem;margin:1rem 0;overflow-wrap:break-word}
.markdown img{max-width:100%}
.markdown pre{background:#f6f8fa;padding:.8rem;border-radius:.4rem;overflow-x:auto}
details.refs{margin:.5rem 0}
details.refs ul{margin:.2rem 0;padding-left:1.2rem}
.crumbs{font-weight:500}
table.files td.size{white-space:nowrap;color:#59636e}
.badge.lfs{font-size:.7rem;border-color:#54aeff;color:#0969da}
div.code{border:1px solid #d0d7de;border-radius:.4rem;overflow-x:auto}
table.code{margin:0;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
table.code td{border:none;padding:0 .6rem}
table.code td.ln{text-align:right;color:#59636e;user-select:none;width:1%}
table.code td.ln a{color:inherit;text-decoration:none}
table.code td.src{white-space:pre}
img.shown{max-width:100%;border:1px solid #d0d7de}
.upload-status progress{width:20rem;max-width:100%;vertical-align:middle}
a.button{display:inline-block;padding:.3rem .9rem;border-radius:.4rem;border:1px solid #1f883d;background:#1f883d;color:#fff;text-decoration:none}
.pager a{margin-right:1rem}
ul.repos,ul.orgs,ul.members{list-style:none;padding:0;margin:.5rem 0}
ul.repos li,ul.orgs li,ul.members li{padding:.45rem 0;border-bottom:1px solid #d0d7de}
form.search{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin:.5rem 0 1rem}
form.search input,form.search select{display:block;padding:.3rem .5rem;font:inherit;margin-top:.2rem}
`;

/** GET /static/hubgate.css, the stylesheet's address before pages linked its hashed one (static-assets.ts): kept for pages cached before. */
export function stylesheet(_req: Request, res: Response): void {
  res.set('Cache-Control', 'public, max-age=3600').type('css').send(STYLESHEET);
}
