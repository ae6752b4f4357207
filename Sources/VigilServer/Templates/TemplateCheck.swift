import Foundation
import VigilCore

/// One thing wrong with a template, found by checking it against its page model at start.
public struct TemplateProblem: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The name resolves to nothing the model has: the template would print nothing there.
        case unknownName
        /// `{{{name}}}` on a value that is not HTML (only trusted HTML is written unescaped).
        case rawNotHTML
        /// `{{name}}` on a list or object, which prints nothing.
        case notPrintable
    }

    /// The template checked (the page).
    public let template: String
    /// The partial the problem is in, when it is in one (included from `template`).
    public let partial: String?
    /// The name as written in the tag (`a.b`, `.`).
    public let name: String
    /// The line of the tag in its file (the partial's file when `partial` is set).
    public let line: Int
    public let kind: Kind
    /// What the name resolved to, for `rawNotHTML` and `notPrintable` ("text", "list", …).
    public let found: String?

    public var description: String {
        let file = (partial ?? template) + ".html"
        let place = partial == nil ? "\(file):\(line)" : "\(file):\(line) (included from \(template).html)"
        switch kind {
        case .unknownName: return "\(place): \(name) is not a value of this page"
        case .rawNotHTML: return "\(place): {{{\(name)}}} writes a \(found ?? "non-HTML") value unescaped; only HTML may be written with {{{ }}} — use {{\(name)}}"
        case .notPrintable: return "\(place): {{\(name)}} is a \(found ?? "value") and prints nothing; use {{#\(name)}}…{{/\(name)}}"
        }
    }
}

/// Every problem of one template.
public struct TemplateProblems: Error, CustomStringConvertible, Sendable {
    public let problems: [TemplateProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension Template {
    /// Checks the template against a schema, the way `render` would resolve each name: `{{#list}}`
    /// enters the list's element, `{{#object}}` the object, other sections and `{{^…}}`/`{{?…}}`
    /// add nothing; a name is looked up innermost first, then outward; in `a.b` only `a` is looked
    /// up through the stack. Partials are checked where they are included.
    /// Throws `TemplateProblems` when there is any problem.
    public func check(against schema: TemplateSchema, partials: (String) throws -> Template) throws {
        let found = try problems(against: schema, partials: partials)
        if !found.isEmpty { throw TemplateProblems(problems: found) }
    }

    /// The problems of the template against a schema (empty when it is fine), in template order.
    public func problems(against schema: TemplateSchema, partials: (String) throws -> Template) throws -> [TemplateProblem] {
        var found: [TemplateProblem] = []
        try check(nodes, stack: [schema], in: nil, chain: [name], partials: partials, into: &found)
        var seen: [TemplateProblem] = []
        for p in found where !seen.contains(p) { seen.append(p) }
        return seen
    }

    /// `file`: the partial these nodes belong to (nil for the page's own template); `chain`: the
    /// templates being checked, so that a partial that includes itself is checked once.
    private func check(_ nodes: [Node], stack: [TemplateSchema], in file: String?, chain: [String],
                       partials: (String) throws -> Template, into found: inout [TemplateProblem]) throws {
        func report(_ path: [String], _ line: Int, _ kind: TemplateProblem.Kind, _ schema: TemplateSchema? = nil) {
            found.append(TemplateProblem(template: name, partial: file, name: path.joined(separator: "."), line: line,
                                         kind: kind, found: schema?.kindName))
        }
        for node in nodes {
            switch node {
            case .text: continue
            case .value(let path, let raw, let line):
                guard let s = Self.resolve(path, in: stack) else { report(path, line, .unknownName); continue }
                if raw {
                    if case .html = s { continue }
                    report(path, line, .rawNotHTML, s)
                } else if !s.isLeaf {
                    report(path, line, .notPrintable, s)
                }
            case .section(let path, let inverted, let children, let line):
                let s = Self.resolve(path, in: stack)
                if s == nil { report(path, line, .unknownName) }
                var inner = stack
                if !inverted, let s {
                    if case .list(let element) = s { inner.append(element) } else { inner.append(s) }
                }
                try check(children, stack: inner, in: file, chain: chain, partials: partials, into: &found)
            case .conditional(let path, let children, let line):
                if Self.resolve(path, in: stack) == nil { report(path, line, .unknownName) }
                try check(children, stack: stack, in: file, chain: chain, partials: partials, into: &found)
            case .partial(let partialName, _):
                guard !chain.contains(partialName) else { continue }
                guard chain.count < 50 else { throw SyntaxError(description: "\(name): templates nest too deeply") }
                let t = try partials(partialName)
                try check(t.nodes, stack: stack, in: partialName, chain: chain + [partialName], partials: partials, into: &found)
            }
        }
    }

    /// What a name resolves to, as `lookup` finds it at render time: `.` is the innermost value;
    /// otherwise the first name is looked for in each object from the innermost out (values that are
    /// not objects are passed over), then the rest descend from there — and fail there if missing.
    static func resolve(_ path: [String], in stack: [TemplateSchema]) -> TemplateSchema? {
        if path == ["."] { return stack.last }
        guard let head = path.first else { return nil }
        for frame in stack.reversed() {
            let found: TemplateSchema
            switch frame {
            case .object(let fields):
                guard let f = fields[head] else { continue }
                found = f
            case .open(let element): found = element
            default: continue
            }
            var s = found
            for key in path.dropFirst() {
                switch s {
                case .object(let fields):
                    guard let next = fields[key] else { return nil }
                    s = next
                case .open(let element): s = element
                default: return nil
                }
            }
            return s
        }
        return nil
    }
}

extension TemplateValue {
    /// A page's values: the model's fields, and the UI strings as `t`.
    public static func page<M: TemplateModel>(_ model: M, strings: Strings) throws -> TemplateValue {
        guard case .object(var fields) = try TemplateValue(encoding: model) else {
            throw TemplateSchema.ExampleProblem(description: "\(M.self) is not a struct of named values")
        }
        fields["t"] = strings.templateValue
        return .object(fields)
    }
}
