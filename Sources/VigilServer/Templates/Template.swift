import Foundation
import VigilCore

/// A value a template can show. Strings are always escaped; only `.html` is written as is.
public indirect enum TemplateValue: Sendable, Equatable {
    case string(String)
    case html(TrustedHTML)
    case bool(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    var isTruthy: Bool {
        switch self {
        case .string(let s): return !s.isEmpty
        case .html(let h): return !h.html.isEmpty
        case .bool(let b): return b
        case .list(let l): return !l.isEmpty
        case .object: return true
        }
    }

    var rendered: String {
        switch self {
        case .string(let s): return HTML.escape(s)
        case .html(let h): return h.html
        case .bool(let b): return b ? "true" : ""
        case .list, .object: return ""
        }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

/// A small logic-less template language (a Mustache subset), written for Vigil so that
/// escaping is ours and tested:
///
/// - `{{name}}`, `{{a.b}}` — a value, HTML-escaped (text and attributes alike)
/// - `{{{name}}}` — a value as HTML; only values made as trusted HTML come out unescaped
/// - `{{#name}}…{{/name}}` — a list repeats, an object or truthy value renders once
/// - `{{^name}}…{{/name}}` — renders when the value is missing, false or empty
/// - `{{?name}}…{{/name}}` — renders once when the value is present and not empty (a list
///   is not iterated), e.g. a heading above a list
/// - `{{> partial}}` — another template
/// - `{{! comment }}`
public struct Template: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case value([String], raw: Bool, line: Int)
        case section([String], inverted: Bool, [Node], line: Int)
        case conditional([String], [Node], line: Int)
        case partial(String, line: Int)
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let description: String
    }

    let nodes: [Node]
    public let name: String

    public init(name: String, source: String) throws {
        self.name = name
        var index = source.startIndex
        var stack: [(name: [String], kind: Character, nodes: [Node], line: Int)] = [([], " ", [], 1)]
        func append(_ n: Node) { stack[stack.count - 1].nodes.append(n) }
        // the line of the current tag, counted as the parser goes (for the checker's messages)
        var line = 1
        var counted = source.startIndex
        while index < source.endIndex {
            guard let open = source.range(of: "{{", range: index..<source.endIndex) else {
                append(.text(String(source[index...])))
                break
            }
            if open.lowerBound > index { append(.text(String(source[index..<open.lowerBound]))) }
            line += source.utf8[counted..<open.lowerBound].lazy.filter { $0 == UInt8(ascii: "\n") }.count
            counted = open.lowerBound
            let triple = source[open.upperBound...].hasPrefix("{")
            let closeToken = triple ? "}}}" : "}}"
            let tagStart = triple ? source.index(after: open.upperBound) : open.upperBound
            guard let close = source.range(of: closeToken, range: tagStart..<source.endIndex) else {
                throw SyntaxError(description: "\(name): unclosed {{ tag")
            }
            let tag = source[tagStart..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            index = close.upperBound
            if triple {
                append(.value(Self.path(tag), raw: true, line: line))
                continue
            }
            guard let first = tag.first else { throw SyntaxError(description: "\(name): empty tag") }
            let rest = tag.dropFirst().trimmingCharacters(in: .whitespaces)
            switch first {
            case "!": continue
            case "#", "^", "?": stack.append((Self.path(rest), first, [], line))
            case "/":
                guard stack.count > 1, stack.last!.name == Self.path(rest) else {
                    throw SyntaxError(description: "\(name): {{/\(rest)}} closes nothing open")
                }
                let done = stack.removeLast()
                append(done.kind == "?" ? .conditional(done.name, done.nodes, line: done.line)
                                        : .section(done.name, inverted: done.kind == "^", done.nodes, line: done.line))
            case ">": append(.partial(rest, line: line))
            default: append(.value(Self.path(tag), raw: false, line: line))
            }
        }
        guard stack.count == 1 else {
            throw SyntaxError(description: "\(name): {{#\(stack.last!.name.joined(separator: "."))}} is not closed")
        }
        nodes = stack[0].nodes
    }

    static func path(_ s: String) -> [String] {
        s == "." ? ["."] : s.split(separator: ".").map(String.init)
    }

    func render(_ context: TemplateValue, partials: (String) throws -> Template) throws -> String {
        var out = ""
        try render(nodes, stack: [context], partials: partials, into: &out, depth: 0)
        return out
    }

    private func render(_ nodes: [Node], stack: [TemplateValue], partials: (String) throws -> Template,
                        into out: inout String, depth: Int) throws {
        guard depth < 50 else { throw SyntaxError(description: "\(name): templates nest too deeply") }
        for node in nodes {
            switch node {
            case .text(let t): out += t
            case .value(let path, let raw, _):
                guard let v = Self.lookup(path, in: stack) else { continue }
                if raw, case .html(let h) = v { out += h.html } else { out += v.rendered }
            case .section(let path, let inverted, let children, _):
                let v = Self.lookup(path, in: stack)
                if inverted {
                    if !(v?.isTruthy ?? false) { try render(children, stack: stack, partials: partials, into: &out, depth: depth + 1) }
                    continue
                }
                guard let v, v.isTruthy else { continue }
                if case .list(let items) = v {
                    for item in items { try render(children, stack: stack + [item], partials: partials, into: &out, depth: depth + 1) }
                } else {
                    try render(children, stack: stack + [v], partials: partials, into: &out, depth: depth + 1)
                }
            case .conditional(let path, let children, _):
                if Self.lookup(path, in: stack)?.isTruthy ?? false {
                    try render(children, stack: stack, partials: partials, into: &out, depth: depth + 1)
                }
            case .partial(let name, _):
                let t = try partials(name)
                try t.render(t.nodes, stack: stack, partials: partials, into: &out, depth: depth + 1)
            }
        }
    }

    static func lookup(_ path: [String], in stack: [TemplateValue]) -> TemplateValue? {
        if path == ["."] { return stack.last }
        guard let head = path.first else { return nil }
        for frame in stack.reversed() {
            if case .object(let o) = frame, let found = o[head] {
                var v = found
                for key in path.dropFirst() {
                    guard case .object(let inner) = v, let next = inner[key] else { return nil }
                    v = next
                }
                return v
            }
        }
        return nil
    }
}

/// Loads templates from `Resources/Views` (or the operator's `VIGIL_VIEWS`, file by file),
/// parses each once, and renders pages.
public final class ViewRenderer: Sendable {
    let directories: [String]
    private let cache = NIOLockedCache<String, Template>()

    public init(directories: [String]) {
        self.directories = directories
    }

    func template(_ name: String) throws -> Template {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "/" }), !name.contains("..") else {
            throw Template.SyntaxError(description: "bad template name \(name)")
        }
        if let t = cache.get(name) { return t }
        for dir in directories {
            let path = (dir as NSString).appendingPathComponent(name + ".html")
            if let data = FileManager.default.contents(atPath: path), let source = String(data: data, encoding: .utf8) {
                let t = try Template(name: name, source: source)
                cache.set(name, t)
                return t
            }
        }
        throw Template.SyntaxError(description: "template \(name).html not found in \(directories.joined(separator: ", "))")
    }

    public func render(_ name: String, _ context: TemplateValue) throws -> String {
        try template(name).render(context, partials: { try self.template($0) })
    }

    /// Renders a page from its model, with the UI strings as `t` — what `check(_:model:)` checked.
    public func render<M: TemplateModel>(_ name: String, _ model: M, strings: Strings) throws -> String {
        try render(name, TemplateValue.page(model, strings: strings))
    }

    /// Checks at start that a template (and the partials it includes, where it includes them)
    /// names only values the model has, and writes `{{{…}}}` only for HTML. With `strings`, names
    /// under `t` must be keys of that catalogue; without, any `t.name` is accepted.
    /// Throws `TemplateProblems` listing every problem, or the error of a template that is
    /// missing or does not parse, or `TemplateSchema.ExampleProblem` for an example that cannot
    /// teach the model's shape.
    public func check(_ name: String, model: any TemplateModel.Type, strings: Strings? = nil) throws {
        try template(name).check(against: TemplateSchema.page(model, strings: strings), partials: { try self.template($0) })
    }
}

/// A tiny thread-safe dictionary.
final class NIOLockedCache<K: Hashable & Sendable, V: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [K: V] = [:]
    func get(_ k: K) -> V? { lock.withLock { storage[k] } }
    func set(_ k: K, _ v: V) { lock.withLock { storage[k] = v } }
    func removeAll() { lock.withLock { storage.removeAll() } }
}
