import Mustache

/// The pages' Mustache templates. `{{name}}` escapes HTML (`<`, `>`, `&`, `"`, `'`), and no
/// template uses the unescaped `{{{…}}}` form: every value, registry-supplied or not, is text.
/// No JavaScript; the inline CSS keeps tables readable on a phone (they scroll sideways).
enum WebTemplates {
    static func library() -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in templates {
            // The templates are constants of this file; a parse error is a programming error the
            // tests of every page would catch at once.
            do { try library.register(text, named: name) } catch { fatalError("template \(name): \(error)") }
        }
        return library
    }

    static let templates: [String: String] = [
        "top": """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · pushctl</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:0 1rem 2rem;color:#1b1f24;background:#fff;line-height:1.4}
        header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline;padding:.75rem 0;border-bottom:1px solid #d0d7de;margin-bottom:1rem}
        header strong{font-size:1.1rem}
        nav a{margin-right:.8rem}
        a{color:#0969da}
        h1{font-size:1.35rem;margin:.5rem 0}
        h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
        .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
        table{border-collapse:collapse;width:100%;font-size:.9rem}
        th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
        th{background:#f6f8fa;white-space:nowrap}
        code,.digest{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;word-break:break-all}
        .status{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-size:.8rem;background:#eaeef2;white-space:nowrap}
        .s-ok,.s-pushed,.s-verification-ok{background:#dafbe1}
        .s-unchanged{background:#ddf4ff}
        .s-failed,.s-drift,.s-changed,.s-gone,.s-error,.s-rejected,.s-unsigned{background:#ffebe9}
        .s-running,.s-interrupted,.s-not-in-job,.s-deleted{background:#fff8c5}
        .err{color:#a40e26;white-space:pre-wrap;word-break:break-word}
        .meta{color:#57606a;font-size:.9rem}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:0}
        dt{color:#57606a}
        dd{margin:0;word-break:break-word}
        form{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem}
        input{font:inherit;padding:.3rem .4rem;min-width:10rem;flex:1}
        button{font:inherit;padding:.3rem .8rem}
        .pager{margin:1rem 0;display:flex;gap:1rem}
        .empty{color:#57606a}
        @media (max-width:640px){
        table.cards thead{display:none}
        table.cards tr{display:block;padding:.5rem 0;border-bottom:1px solid #d0d7de}
        table.cards td{display:block;border:0;padding:.1rem 0}
        table.cards td:empty{display:none}
        table.cards td[data-label]::before{content:attr(data-label) ": ";color:#57606a;font-size:.8rem}
        }
        </style>
        </head>
        <body>
        <header><strong>pushctl</strong>
        <nav><a href="/">Runs</a><a href="/pushes">Pushes</a><a href="/drift">Drift</a><a href="/metrics">Metrics</a></nav>
        <span class="meta">{{ledger}}</span>
        </header>
        <main>

        """,
        "bottom": """
        </main>
        </body>
        </html>

        """,
        "pager": """
        {{#pager}}<nav class="pager">{{#newer}}<a rel="prev" href="{{.}}">← newer</a>{{/newer}}<span>page {{number}} of {{pages}}</span>{{#older}}<a rel="next" href="{{.}}">older →</a>{{/older}}</nav>{{/pager}}

        """,
        "status": """
        <span class="status s-{{statusClass}}">{{status}}</span>
        """,
        "runs": """
        {{>top}}<h1>Runs</h1>
        <p class="meta" id="total">{{total}} run(s){{#filter}} · {{.}}{{/filter}}</p>
        {{#hasRuns}}<div class="scroll"><table class="cards" id="runs">
        <thead><tr><th>Run</th><th>Status</th><th>Kind</th><th>Job</th><th>Started</th><th>Duration</th><th>Pushes</th><th>Error</th></tr></thead>
        <tbody>
        {{/hasRuns}}{{#runs}}<tr class="run" data-run="{{id}}"><td data-label="Run"><a href="{{href}}">{{id}}</a></td><td data-label="Status">{{>status}}</td><td data-label="Kind">{{kind}}</td><td data-label="Job">{{job}}</td><td data-label="Started">{{started}}</td><td data-label="Duration">{{duration}}</td><td data-label="Pushes">{{counts}}</td><td data-label="Error" class="err">{{runError}}</td></tr>
        {{/runs}}{{#hasRuns}}</tbody></table></div>
        {{/hasRuns}}{{^runs}}<p class="empty">No runs recorded.</p>
        {{/runs}}{{>pager}}{{>bottom}}
        """,
        "run": """
        {{>top}}<h1>Run {{id}} {{>status}}</h1>
        <dl id="run">
        {{#fields}}<dt>{{name}}</dt><dd>{{value}}</dd>
        {{/fields}}</dl>
        {{#runError}}<p class="err" id="run-error">{{.}}</p>{{/runError}}
        <h2>Pushes ({{pushCount}})</h2>
        {{#hasPushes}}<div class="scroll"><table class="cards" id="pushes">
        <thead><tr><th>Target</th><th>Status</th><th>Digest</th><th>Source</th><th>Blobs</th><th>Bytes</th><th>Attempts</th><th>Started</th><th>Duration</th><th>Signatures</th><th>Error</th></tr></thead>
        <tbody>
        {{/hasPushes}}{{#pushes}}{{>pushRow}}{{/pushes}}{{#hasPushes}}</tbody></table></div>
        {{/hasPushes}}{{^pushes}}<p class="empty">No pushes recorded.</p>
        {{/pushes}}{{#hasChecks}}<h2>Checked tags ({{checkCount}})</h2>
        {{>checkTable}}{{/hasChecks}}{{>bottom}}
        """,
        "pushRow": """
        <tr class="push"><td data-label="Target"><code>{{target}}</code></td><td data-label="Status">{{>status}}</td><td data-label="Digest" class="digest">{{digest}}</td><td data-label="Source">{{source}}{{#sourceDigest}}<br><span class="digest">{{.}}</span>{{/sourceDigest}}</td><td data-label="Blobs">{{blobs}}</td><td data-label="Bytes">{{bytes}}</td><td data-label="Attempts">{{attempts}}</td><td data-label="Started">{{started}}</td><td data-label="Duration">{{duration}}</td><td data-label="Signatures" class="sig">{{#verdict}}verify: {{.}}{{/verdict}}{{#verifiedKeys}}<br>keys: <span class="digest">{{.}}</span>{{/verifiedKeys}}{{#signatures}}<br>signed: <span class="digest">{{.}}</span>{{/signatures}}</td><td data-label="Error" class="err">{{pushError}}</td></tr>

        """,
        "checkTable": """
        <div class="scroll"><table class="cards checks">
        <thead><tr><th>Status</th><th>Tag</th><th>Pushed</th><th>Now</th><th>Pushed in run</th><th>Error</th></tr></thead>
        <tbody>
        {{#checks}}<tr class="check"><td data-label="Status">{{>status}}</td><td data-label="Tag"><code>{{target}}</code></td><td data-label="Pushed" class="digest">{{expected}}</td><td data-label="Now" class="digest">{{current}}</td><td data-label="Pushed in run"><a href="{{pushedInHref}}">{{pushedInRun}}</a></td><td data-label="Error" class="err">{{checkError}}</td></tr>
        {{/checks}}</tbody></table></div>

        """,
        "pushes": """
        {{>top}}<h1>Pushes</h1>
        <form method="get" action="/pushes">
        <input name="digest" placeholder="digest prefix, e.g. sha256:3f1a" value="{{query.digest}}">
        <input name="repository" placeholder="repository or host/repository" value="{{query.repository}}">
        <input name="tag" placeholder="tag" value="{{query.tag}}">
        <button type="submit">Search</button>
        </form>
        <p class="meta" id="total">{{total}} push(es)</p>
        {{#hasRows}}<div class="scroll"><table class="cards" id="pushes">
        <thead><tr><th>Started</th><th>Target</th><th>Status</th><th>Digest</th><th>Source</th><th>Run</th><th>Signatures</th><th>Error</th></tr></thead>
        <tbody>
        {{/hasRows}}{{#rows}}<tr class="push"><td data-label="Started">{{started}}</td><td data-label="Target"><code>{{target}}</code></td><td data-label="Status">{{>status}}</td><td data-label="Digest" class="digest">{{digest}}</td><td data-label="Source">{{source}}</td><td data-label="Run"><a href="{{runHref}}">{{runID}}</a> {{job}}</td><td data-label="Signatures" class="sig">{{#verdict}}verify: {{.}}{{/verdict}}{{#signatures}}<br>signed: <span class="digest">{{.}}</span>{{/signatures}}</td><td data-label="Error" class="err">{{pushError}}</td></tr>
        {{/rows}}{{#hasRows}}</tbody></table></div>
        {{/hasRows}}{{^rows}}<p class="empty">No pushes match.</p>
        {{/rows}}{{>pager}}{{>bottom}}
        """,
        "drift": """
        {{>top}}<h1>Drift</h1>
        <p class="meta" id="summary">{{summary}}</p>
        {{#jobs}}<section class="job">
        <h2>{{job}}: <a href="{{href}}">run {{id}}</a> {{>status}}</h2>
        <p class="meta">{{started}} · {{counts}}</p>
        {{#hasChecks}}{{>checkTable}}{{/hasChecks}}{{^checks}}<p class="empty">No tags checked.</p>{{/checks}}
        </section>
        {{/jobs}}{{^jobs}}<p class="empty">No verify run recorded.</p>
        {{/jobs}}{{>bottom}}
        """,
        "error": """
        {{>top}}<h1>{{code}} {{reason}}</h1>
        <p class="err" id="message">{{message}}</p>
        {{>bottom}}
        """
    ]
}
