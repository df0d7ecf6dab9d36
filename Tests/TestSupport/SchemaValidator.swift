import Foundation

/// Debian's python3 with python3-jsonschema and python3-yaml (an independent YAML reader, so the
/// schema checks do not go through pushctl's own YAML code).
public let python = "/usr/bin/python3"

/// The one schema validator of the suites (python3-jsonschema, draft 2020-12), as a script for
/// `python3 -c validateScript [--strict] SCHEMA FILE...`.
///
/// Validates each YAML, JSON or NDJSON (`.ndjson`: every line a document) file against the
/// schema file and prints `ok PATH` or `invalid PATH: reason` per file; exits 0 unless `--strict`
/// is given and a file is invalid. The schemas refer to each other by relative `$ref`s, resolved
/// offline among the `*.schema.json` files next to SCHEMA: a network `$id` or any attempt to reach
/// the network fails.
public let validateScript = """
    import json, pathlib, sys, warnings
    warnings.simplefilter('ignore', DeprecationWarning)
    try:
        import yaml, jsonschema
        from jsonschema import Draft202012Validator, RefResolver
    except ImportError as e:
        sys.exit('missing Debian package for the schema tests (apt-get install python3-yaml python3-jsonschema): %s' % e)
    args = sys.argv[1:]
    strict = args[:1] == ['--strict']
    if strict: args = args[1:]
    def refuse(url): raise SystemExit('network access attempted: ' + url)
    schema_path = pathlib.Path(args[0]).resolve()
    store = {}
    for path in sorted(schema_path.parent.glob('*.schema.json')):
        other = json.loads(path.read_text())
        if str(other.get('$id', '')).startswith('http'): sys.exit(path.name + ' has a network $id')
        store[path.as_uri()] = other
    schema = json.loads(schema_path.read_text())
    Draft202012Validator.check_schema(schema)
    resolver = RefResolver(base_uri=schema_path.as_uri(), referrer=schema, store=store,
                           handlers={'http': refuse, 'https': refuse})
    validator = Draft202012Validator(schema, resolver=resolver)
    bad = 0
    for path in args[1:]:
        with open(path) as f:
            if path.endswith('.ndjson'):
                docs = [json.loads(line) for line in f if line.strip()]
            else:
                docs = [json.load(f) if path.endswith('.json') else yaml.safe_load(f)]
        errors = [e for doc in docs for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path))]
        if errors: bad += 1
        print(('ok ' + path) if not errors else ('invalid ' + path + ': ' + errors[0].message))
    sys.exit(1 if strict and bad else 0)
    """

/// Runs the one validator (`validateScript`).
public enum SchemaValidator {
    /// Validates `files` against `schema` (a file in `schemas/`, or a path); with `strict`, the
    /// exit status is 1 when any file is invalid.
    public static func validate(_ files: [String], against schema: String, strict: Bool = false) throws -> ProcessResult {
        let schemaPath = schema.contains("/") ? schema : packageRoot + "/schemas/" + schema
        return try runProcess(python, ["-c", validateScript] + (strict ? ["--strict"] : []) + [schemaPath] + files)
    }

    /// Nil when `document` (JSON) is valid against `schemas/NAME`, else the validator's complaints.
    public static func problems(_ document: String, schema: String) throws -> String? {
        let folder = try Scratch(prefix: "pushctl-schema")
        let file = try folder.write("document.json", document)
        let result = try validate([file], against: schema, strict: true)
        return result.status == 0 ? nil : "exit \(result.status): \(result.stdout)\(result.stderr)"
    }
}
