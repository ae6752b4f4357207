import Foundation
import VigilCore

/// The names a page model offers a template: its fields, the shape of each list's elements, and
/// the kind of each leaf. Learned by encoding the model's `example`, so it is exactly what
/// `TemplateValue(encoding:)` gives a template.
public indirect enum TemplateSchema: Sendable, Equatable {
    /// Plain text; written escaped. `{{{…}}}` on it is refused.
    case text(example: String)
    /// Trusted HTML; the only kind `{{{…}}}` may write.
    case html(example: String)
    /// A yes/no value (also what a nil optional becomes).
    case flag(example: Bool)
    /// A list: `{{#name}}` repeats for each element, which has this shape.
    case list(TemplateSchema)
    /// An object with these fields.
    case object([String: TemplateSchema])
    /// An object whose keys are not known in advance (the UI strings, `t`): any name is accepted
    /// and has this shape.
    case open(TemplateSchema)

    /// A model's example that cannot teach its shape.
    public struct ExampleProblem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The schema of a model, learned from `Model.example`. The example must set every optional
    /// and give every list an element, or the shape below them is unknown: that is refused.
    public init<M: TemplateModel>(model: M.Type) throws {
        let recorder = TemplateValueEncoder.Recorder()
        let value = try TemplateValueEncoder.encode(M.example, codingPath: [], recorder: recorder)
        if !recorder.nils.isEmpty {
            let paths = recorder.nils.map { $0.map { TemplateValue.templateKey($0.stringValue) }.joined(separator: ".") }
            throw ExampleProblem(description: "\(M.self).example leaves \(paths.joined(separator: ", ")) nil: an example sets every optional, so that templates can be checked against what it holds")
        }
        do {
            self = try TemplateSchema(describing: value)
        } catch let p as ExampleProblem {
            throw ExampleProblem(description: "\(M.self).example: \(p.description)")
        }
        guard case .object = self else {
            throw ExampleProblem(description: "\(M.self) is not a struct of named values (it encodes as \(kindName))")
        }
    }

    /// The schema of a value as built (for values made by hand). Each list must have an element;
    /// the elements of a list are merged (a field any element has is known).
    public init(describing value: TemplateValue, path: [String] = []) throws {
        switch value {
        case .string(let s): self = .text(example: s)
        case .html(let h): self = .html(example: h.html)
        case .bool(let b): self = .flag(example: b)
        case .object(let o):
            var fields: [String: TemplateSchema] = [:]
            for (k, v) in o { fields[k] = try TemplateSchema(describing: v, path: path + [k]) }
            self = .object(fields)
        case .list(let items):
            guard let first = items.first else {
                throw ExampleProblem(description: "the list \(path.isEmpty ? "(top)" : path.joined(separator: ".")) is empty: an example gives every list an element, so that its fields are known")
            }
            var element = try TemplateSchema(describing: first, path: path + ["[]"])
            for item in items.dropFirst() { element = element.merged(with: try TemplateSchema(describing: item, path: path + ["[]"])) }
            self = .list(element)
        }
    }

    /// The names every page has besides its model: `t`, the UI strings (any key, text).
    public static let pageGlobals: [String: TemplateSchema] = ["t": .open(.text(example: ""))]

    /// The UI strings as a closed object: only the catalogue's keys are accepted.
    public static func strings(_ strings: Strings) -> TemplateSchema {
        .object(strings.table.mapValues { .text(example: $0) })
    }

    /// What a page template sees: the model's fields and `t`. With `strings`, `t` accepts only the
    /// keys of that catalogue (English is complete); without, any key.
    public static func page<M: TemplateModel>(_ model: M.Type, strings: Strings? = nil) throws -> TemplateSchema {
        guard case .object(var fields) = try TemplateSchema(model: model) else { return .object([:]) }
        var globals = pageGlobals
        if let strings { globals["t"] = Self.strings(strings) }
        for (name, schema) in globals {
            guard fields[name] == nil else {
                throw ExampleProblem(description: "\(M.self) has a field \(name), a name every page already has (\(name == "t" ? "the UI strings" : name))")
            }
            fields[name] = schema
        }
        return .object(fields)
    }

    /// Merges two shapes of the same place (the elements of one list): the fields of both.
    func merged(with other: TemplateSchema) -> TemplateSchema {
        switch (self, other) {
        case (.object(let a), .object(let b)): return .object(a.merging(b) { $0.merged(with: $1) })
        case (.list(let a), .list(let b)): return .list(a.merged(with: b))
        case (.open(let a), .open(let b)): return .open(a.merged(with: b))
        // text and html in one place: text, so that {{{…}}} on it is refused
        case (.html, .text): return other
        default: return self
        }
    }

    var kindName: String {
        switch self {
        case .text: return "text"
        case .html: return "html"
        case .flag: return "flag"
        case .list: return "list"
        case .object: return "object"
        case .open: return "object (any key)"
        }
    }

    var isLeaf: Bool {
        switch self {
        case .text, .html, .flag: return true
        case .list, .object, .open: return false
        }
    }

    // MARK: - Documentation

    /// A Markdown section listing every value a template can use: its dotted path, its kind and
    /// the model example's value. Inside `{{#list}}…{{/list}}` an element's field `list[].name` is
    /// written `{{name}}`; `{{.}}` is the element itself. Rows are sorted, so the output is stable.
    public func markdown(template: String) -> String {
        var rows: [(path: String, kind: String, example: String)] = []
        func walk(_ s: TemplateSchema, _ path: String) {
            switch s {
            case .text(let e): rows.append((path, "text", Self.code(e)))
            case .html(let e): rows.append((path, "html", Self.code(e)))
            case .flag(let e): rows.append((path, "flag", Self.code(e ? "true" : "false")))
            case .object(let fields):
                if !path.isEmpty { rows.append((path, "object", "")) }
                for k in fields.keys.sorted() { walk(fields[k]!, path.isEmpty ? k : path + "." + k) }
            case .list(let element):
                rows.append((path, element.isLeaf ? "list of \(element.kindName)" : "list", ""))
                if element.isLeaf {
                    walk(element, path + "[]")
                } else if case .object(let fields) = element {
                    for k in fields.keys.sorted() { walk(fields[k]!, path + "[]." + k) }
                } else {
                    walk(element, path + "[]")
                }
            case .open(let element):
                rows.append((path + ".*", "any key: \(element.kindName)", ""))
            }
        }
        walk(self, "")
        var out = "## `\(template)`\n\n| Value | Kind | Example |\n| --- | --- | --- |\n"
        for r in rows { out += "| `\(r.path)` | \(r.kind) | \(r.example) |\n" }
        return out
    }

    /// An example value as a Markdown code span in a table cell: one line, at most 80 characters,
    /// pipes escaped, fenced with more backticks than it holds.
    static func code(_ s: String) -> String {
        var one = s.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\t", with: " ")
        if one.count > 80 { one = String(one.prefix(79)) + "…" }
        if one.isEmpty { return "" }
        one = one.replacingOccurrences(of: "|", with: "\\|")
        var longest = 0, run = 0
        for c in one { run = c == "`" ? run + 1 : 0; longest = max(longest, run) }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = one.hasPrefix("`") || one.hasSuffix("`") ? " " : ""
        return fence + pad + one + pad + fence
    }
}
