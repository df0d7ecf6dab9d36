import CYAML
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses YAML text with libyaml's event parser into a `Node` tree.
///
/// One document per file: a second document is an error (job files are one document each).
/// Anchors and aliases are resolved by copying the anchored node; the copy keeps the anchor's
/// location, so messages about it point at the definition.
public enum YAMLParser {
    /// Bounds on what one document may be. A job file is a few kilobytes and a few levels deep;
    /// the limits only stop hostile or broken input: a `Node` tree is released recursively, so
    /// nesting tens of thousands deep (a 100 KB line of `[`) would overflow the thread's stack.
    public struct Limits: Sendable, Equatable {
        /// Deepest nesting of collections, counting what aliases bring in.
        public var maxDepth: Int
        /// Largest document, in bytes.
        public var maxBytes: Int

        public init(maxDepth: Int = 256, maxBytes: Int = 16 << 20) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
        }
    }

    /// Parses `text`, naming `file` in every location. Returns `nil` for an empty document
    /// (nothing but comments or whitespace).
    public static func parse(_ text: String, file: String) throws(YAMLError) -> Node? {
        try parse(text, file: file, limits: Limits())
    }

    /// Parses `text` within `limits` (`.tooLarge`, `.tooDeep` beyond them).
    public static func parse(_ text: String, file: String, limits: Limits) throws(YAMLError) -> Node? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw .outOfMemory(file: file) }
        defer { yaml_parser_delete(&parser) }

        let bytes = Array(text.utf8)
        if bytes.count > limits.maxBytes { throw .tooLarge(file: file, size: bytes.count, limit: limits.maxBytes) }
        // libyaml asserts a non-null input pointer, which an empty array need not have.
        if bytes.isEmpty { return nil }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> Node? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(file: file, maxDepth: limits.maxDepth)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw syntaxError(parser, file: file)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.root
        }
    }

    /// Reads and parses a file.
    public static func parse(contentsOf path: String) throws(YAMLError) -> Node? {
        guard let data = readFile(path) else { throw .unreadable(file: path, reason: String(cString: strerror(errno))) }
        guard let text = String(validating: data, as: UTF8.self) else { throw .notUTF8(file: path) }
        return try parse(text, file: path)
    }

    /// The whole file's bytes, or nil (with `errno` set) when it cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        readFile(path, limit: Int.max)
    }

    /// The file's bytes, but no more than `limit` + 1 of them: enough to tell that a file is
    /// over a size limit without reading (or holding) all of a huge one.
    public static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
            if n > 0 { out.append(contentsOf: chunk[0..<n]) }
            if n < 65536 {
                if ferror(f) != 0 { return nil }
                break
            }
        }
        return out
    }

    private static func syntaxError(_ parser: yaml_parser_t, file: String) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        let context = parser.context.map { String(cString: $0) }
        let mark = parser.problem_mark
        return .syntax(
            problem: problem, context: context,
            location: Location(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }
}

/// Builds the tree from the event stream with a stack of open collections.
///
/// Collections under construction are mutated in place on the stack (`stack[last].items.append`),
/// so a list of N items is built in O(N); taking the top off, appending and putting it back
/// copied the whole list each time in unoptimised builds (100,000 tags took minutes).
private struct TreeBuilder {
    let file: String
    let maxDepth: Int
    var root: Node?
    var documents = 0
    /// Anchored nodes with their height (levels of collections, 0 for a scalar).
    var anchors: [String: (node: Node, height: Int)] = [:]

    struct Open {
        var isMapping: Bool
        var items: [Node] = []
        var entries: [MappingEntry] = []
        var pendingKey: Node?
        var location: Location
        var tag: String?
        var anchor: String?
        /// Levels of collections from this one down (1 while it holds only scalars).
        var height = 1
    }
    var stack: [Open] = []

    init(file: String, maxDepth: Int) {
        self.file = file
        self.maxDepth = maxDepth
    }

    func location(_ mark: yaml_mark_t) -> Location {
        Location(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
        let here = location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 { throw .multipleDocuments(location: here) }
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value =
                s.value.map {
                    String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self)
                } ?? ""
            let style: ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let node = Node(content: .scalar(Scalar(value: value, style: style, tag: Self.string(s.tag))), location: here)
            if let anchor = Self.string(s.anchor) { anchors[anchor] = (node, 0) }
            add(node, height: 0)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else { throw .undefinedAlias(name: name, location: here) }
            // An alias inserts a whole tree: nesting anchors in aliases must not get around the limit.
            if stack.count + anchored.height > maxDepth { throw .tooDeep(limit: maxDepth, location: here) }
            add(anchored.node, height: anchored.height)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            if stack.count + 1 > maxDepth { throw .tooDeep(limit: maxDepth, location: here) }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let tag = isMapping ? Self.string(event.data.mapping_start.tag) : Self.string(event.data.sequence_start.tag)
            let anchor = isMapping ? Self.string(event.data.mapping_start.anchor) : Self.string(event.data.sequence_start.anchor)
            stack.append(Open(isMapping: isMapping, location: here, tag: tag, anchor: anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let open = stack.popLast() else { return }
            let node = Node(
                content: open.isMapping ? .mapping(open.entries) : .sequence(open.items),
                location: open.location, tag: open.tag)
            if let anchor = open.anchor { anchors[anchor] = (node, open.height) }
            add(node, height: open.height)
        default:
            break  // stream start, document end: nothing to build
        }
    }

    mutating func add(_ node: Node, height: Int) {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].height = max(stack[top].height, height + 1)
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].entries.append(MappingEntry(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
    }
}

public enum YAMLError: Error, Sendable, Equatable {
    /// libyaml's own problem text (e.g. "mapping values are not allowed in this context") at its mark.
    case syntax(problem: String, context: String?, location: Location)
    case multipleDocuments(location: Location)
    case undefinedAlias(name: String, location: Location)
    case unreadable(file: String, reason: String)
    case notUTF8(file: String)
    case outOfMemory(file: String)
    /// Collections nested deeper than `limit` (`YAMLParser.Limits.maxDepth`).
    case tooDeep(limit: Int, location: Location)
    /// A document larger than `limit` bytes (`YAMLParser.Limits.maxBytes`).
    case tooLarge(file: String, size: Int, limit: Int)
}

extension YAMLError: CustomStringConvertible {
    /// The location prefix for `FILE:LINE:COLUMN: error: MESSAGE` (file-level problems use line 1, column 1).
    public var location: Location {
        switch self {
        case .syntax(_, _, let l), .multipleDocuments(let l), .undefinedAlias(_, let l), .tooDeep(_, let l): l
        case .unreadable(let f, _), .notUTF8(let f), .outOfMemory(let f), .tooLarge(let f, _, _): Location(file: f, line: 1, column: 1)
        }
    }

    /// The message without the location.
    public var message: String {
        switch self {
        case .syntax(let problem, let context, _):
            context.map { "YAML syntax error: \(problem) \($0)" } ?? "YAML syntax error: \(problem)"
        case .multipleDocuments:
            "a job file holds one YAML document; found a second one (remove the '---' separator)"
        case .undefinedAlias(let name, _):
            "YAML alias '*\(name)' refers to an anchor '&\(name)' that is not defined before it"
        case .unreadable(_, let reason):
            "cannot read file: \(reason)"
        case .notUTF8:
            "the file is not valid UTF-8"
        case .outOfMemory:
            "cannot initialize the YAML parser"
        case .tooDeep(let limit, _):
            "YAML nesting is deeper than \(limit) levels here; a job file needs a handful"
        case .tooLarge(_, let size, let limit):
            "the file has more than \(limit) bytes (\(size > limit ? "at least \(size)" : "\(size)")); a job file may have at most \(limit)"
        }
    }

    public var description: String { "\(location): error: \(message)" }
}
