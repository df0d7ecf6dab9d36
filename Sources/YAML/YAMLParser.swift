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
    /// Parses `text`, naming `file` in every location. Returns `nil` for an empty document
    /// (nothing but comments or whitespace).
    public static func parse(_ text: String, file: String) throws(YAMLError) -> Node? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw .outOfMemory(file: file) }
        defer { yaml_parser_delete(&parser) }

        let bytes = Array(text.utf8)
        // libyaml asserts a non-null input pointer, which an empty array need not have.
        if bytes.isEmpty { return nil }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> Node? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(file: file)
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
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
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
        return .syntax(problem: problem, context: context,
                       location: Location(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }
}

/// Builds the tree from the event stream with a stack of open collections.
private struct TreeBuilder {
    let file: String
    var root: Node?
    var documents = 0
    var anchors: [String: Node] = [:]

    enum Open {
        case sequence(items: [Node], location: Location, tag: String?, anchor: String?)
        case mapping(entries: [MappingEntry], pendingKey: Node?, location: Location, tag: String?, anchor: String?)
    }
    var stack: [Open] = []

    init(file: String) { self.file = file }

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
            let value = s.value.map {
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
            if let anchor = Self.string(s.anchor) { anchors[anchor] = node }
            try add(node)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let node = anchors[name] else { throw .undefinedAlias(name: name, location: here) }
            try add(node)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            stack.append(.sequence(items: [], location: here, tag: Self.string(s.tag), anchor: Self.string(s.anchor)))
        case YAML_MAPPING_START_EVENT:
            let m = event.data.mapping_start
            stack.append(.mapping(entries: [], pendingKey: nil, location: here, tag: Self.string(m.tag), anchor: Self.string(m.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let open = stack.popLast() else { return }
            let node: Node
            let anchor: String?
            switch open {
            case .sequence(let items, let loc, let tag, let a):
                node = Node(content: .sequence(items), location: loc, tag: tag); anchor = a
            case .mapping(let entries, _, let loc, let tag, let a):
                node = Node(content: .mapping(entries), location: loc, tag: tag); anchor = a
            }
            if let anchor { anchors[anchor] = node }
            try add(node)
        default:
            break // stream start, document end: nothing to build
        }
    }

    mutating func add(_ node: Node) throws(YAMLError) {
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let loc, let tag, let anchor):
            items.append(node)
            stack.append(.sequence(items: items, location: loc, tag: tag, anchor: anchor))
        case .mapping(var entries, let pendingKey, let loc, let tag, let anchor):
            if let key = pendingKey {
                entries.append(MappingEntry(key: key, value: node))
                stack.append(.mapping(entries: entries, pendingKey: nil, location: loc, tag: tag, anchor: anchor))
            } else {
                stack.append(.mapping(entries: entries, pendingKey: node, location: loc, tag: tag, anchor: anchor))
            }
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
}

extension YAMLError: CustomStringConvertible {
    /// The location prefix for `FILE:LINE:COLUMN: error: MESSAGE` (file-level problems use line 1, column 1).
    public var location: Location {
        switch self {
        case .syntax(_, _, let l), .multipleDocuments(let l), .undefinedAlias(_, let l): l
        case .unreadable(let f, _), .notUTF8(let f), .outOfMemory(let f): Location(file: f, line: 1, column: 1)
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
        }
    }

    public var description: String { "\(location): error: \(message)" }
}
