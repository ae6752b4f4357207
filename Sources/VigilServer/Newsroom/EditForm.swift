import Foundation
import VigilCore

/// The newsroom's editing forms: a case (without its urgent actions), a document of an urgent
/// action and a target, edited in the browser as plain HTML forms that work without JavaScript.
///
/// A `Schema` lists every JSON member the domain reader accepts, with its kind of input. Three
/// things are built from it:
/// - `render` turns a draft's JSON (and the problems found in it, by the domain reader or by
///   `read`) into a flat list of rows for `partials/edit-form.html`: group openings with their
///   legend, fields, "Add another …" and "Remove this …" buttons, group closings — so the template
///   needs no recursion — and an error summary whose links lead to the fields;
/// - `read` turns the posted form back into JSON for the domain reader: the exact shape the
///   domain's `.json` writes, so that an unchanged form gives back the same JSON; and it applies
///   an add or remove button (`add=people`, `remove=people[1]`), after which the page shows the
///   form again with one item more or less.
///
/// Field names are paths like JSON paths without `$.`: `people[0].sentences[1].court`; element
/// ids are derived from them (`f-people-0-sentences-1-court`). Problems the domain reports at
/// `$.people[0].sentences[1].court` land on that field.
enum EditForm {

    // MARK: - Schema

    /// One choice of a select: the JSON value and the catalogue key of its label.
    struct Option: Sendable, Hashable {
        let value: String
        let label: String
        init(_ value: String, _ label: String) { self.value = value; self.label = label }
    }

    /// A checkbox that is written as `false` when unticked only while a sibling member has a value
    /// (`no_further_action` exists only for outcomes); otherwise an unticked box is left out.
    struct Condition: Sendable {
        let key: String
        let value: String
    }

    indirect enum Kind: Sendable {
        /// One line of text.
        case text
        /// Several lines of plain text.
        case textarea
        /// Several lines of Markdown (can be previewed).
        case markdown
        /// A fixed choice. `blank`: the catalogue key of the empty choice ("Choose…", "None");
        /// nil when the domain always has a value (a default).
        case select([Option], blank: String?)
        /// A flag: ticked is `true`; unticked is `false` where `whenFalse` holds, else left out.
        case checkbox(whenFalse: Condition?)
        /// A whole number; what is not one is kept as text, for the domain reader to report.
        case integer
        /// A date as precise as it is known: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
        case date
        /// A day, `YYYY-MM-DD` (`<input type="date">`).
        case day
        /// Strings, one a line.
        case lines(maxCount: Int, omitEmpty: Bool)
        /// Short strings separated by commas (codes, identifiers).
        case list(maxCount: Int, omitEmpty: Bool)
        /// String → string, as repeated key/value pairs and one empty pair to add another.
        /// `keyLabel`/`valueLabel` are catalogue keys with `{n}`.
        case map(keyLabel: String, valueLabel: String, maxCount: Int, omitEmpty: Bool)
        /// A nested object, left out when nothing in it is filled in.
        case object([Field])
        /// An array of objects. `item` is the catalogue prefix of `{item}_item` ("Person {n}"),
        /// `{item}_add` and `{item}_remove`.
        case group([Field], item: String, maxCount: Int, omitEmpty: Bool)
        /// A sentence's term: a choice of prison term (`years`, `months`), `life` or `death`;
        /// writes `"life": true` or `"death": true`.
        case term
        /// A member always written with this value and never shown (a case's `urgent_actions: []`).
        case fixed(JSONValue)
    }

    struct Field: Sendable {
        let key: String
        /// Catalogue keys.
        let label: String
        let hint: String?
        let kind: Kind
        let required: Bool
        /// Longest value, in characters (strings; for lists and lines each item; maps each value).
        let maxLength: Int
        /// Free text in the content's language (gets the document's `lang`).
        let prose: Bool
        /// Codes, identifiers, dates and numbers: written left to right.
        let code: Bool
        /// The sibling member holding the language of this one's text (`name_original_language`).
        let languageKey: String?

        init(_ key: String, _ label: String, _ kind: Kind, hint: String? = nil, required: Bool = false, max: Int = 100_000,
             prose: Bool = false, code: Bool = false, languageKey: String? = nil) {
            self.key = key; self.label = label; self.kind = kind; self.hint = hint; self.required = required
            self.maxLength = max; self.prose = prose; self.code = code; self.languageKey = languageKey
        }
    }

    struct Schema: Sendable {
        /// `case`, `document`, `target`: the prefix of the ids the form's own elements get.
        let name: String
        let fields: [Field]
    }

    /// Largest body an editing form can need: the longest document (200,000 + 200,000 + 50,000 +
    /// 20,000 characters of Markdown) percent-encoded as three-byte UTF-8 is about 4.3 MB.
    static let maxBodyBytes = 5 * 1024 * 1024
    /// Most name/value pairs read from one form.
    static let maxPairs = 100_000

    // MARK: - The three schemas

    static func options<E: RawRepresentable & CaseIterable>(_ type: E.Type, _ prefix: String) -> [Option] where E.RawValue == String {
        E.allCases.map { Option($0.rawValue, prefix + $0.rawValue) }
    }

    static let sentence: [Field] = [
        Field("term", "form_sentence_term", .term, hint: "form_hint_term", required: true),
        Field("years", "form_sentence_years", .integer, hint: "form_hint_years", code: true),
        Field("months", "form_sentence_months", .integer, hint: "form_hint_months", code: true),
        Field("court", "form_sentence_court", .text, max: 300),
        Field("date", "form_sentence_date", .date, hint: "form_hint_date", code: true),
        Field("stage", "form_sentence_stage", .select(options(SentenceStage.self, "stage_"), blank: "form_none")),
    ]

    static let person: [Field] = [
        Field("id", "form_person_id", .text, hint: "form_hint_slug", required: true, code: true),
        Field("name", "form_person_name", .text, required: true, max: 300),
        Field("name_original", "form_person_name_original", .text, hint: "form_hint_name_original", max: 300,
              languageKey: "name_original_language"),
        Field("name_original_language", "form_person_name_original_language", .text, hint: "form_hint_language", code: true),
        Field("pronouns", "form_person_pronouns", .text, hint: "form_hint_pronouns", max: 40),
        Field("role", "form_person_role", .text, hint: "form_hint_role", max: 300),
        Field("status", "form_person_status", .select(options(PersonStatus.self, "status_"), blank: "form_choose"), required: true),
        Field("charges", "form_person_charges", .lines(maxCount: 10_000, omitEmpty: true), hint: "form_hint_charges"),
        Field("sentences", "form_sentences", .group(sentence, item: "form_sentence", maxCount: 50, omitEmpty: false)),
    ]

    static let event: [Field] = [
        Field("date", "form_event_date", .date, hint: "form_hint_date", required: true, code: true),
        Field("kind", "form_event_kind", .select(options(TimelineKind.self, "event_"), blank: "form_choose"), required: true),
        Field("people", "form_event_people", .list(maxCount: 10_000, omitEmpty: false), hint: "form_hint_event_people", code: true),
        Field("summary", "form_event_summary", .textarea, required: true, max: 5000),
        Field("source", "form_event_source", .text, hint: "form_hint_source", max: 2000),
    ]

    /// A case without its urgent actions (what a draft of a case holds: `Case.withoutUrgentActions.json`).
    static let `case` = Schema(name: "case", fields: [
        Field("id", "form_case_id", .text, hint: "form_hint_slug", required: true, code: true),
        Field("title", "form_case_title", .text, required: true, max: 300),
        Field("summary", "form_case_summary", .textarea, max: 5000),
        Field("countries", "form_case_countries", .list(maxCount: 10_000, omitEmpty: false), hint: "form_hint_countries", required: true, code: true),
        Field("region", "form_case_region", .text, max: 200),
        Field("themes", "form_case_themes", .list(maxCount: 10_000, omitEmpty: false), hint: "form_hint_themes", code: true),
        Field("status", "form_case_status", .select(options(CaseStatus.self, "status_"), blank: nil)),
        Field("people", "form_people", .group(person, item: "form_person", maxCount: 500, omitEmpty: false)),
        Field("timeline", "form_timeline", .group(event, item: "form_event", maxCount: 2000, omitEmpty: false)),
        Field("urgent_actions", "", .fixed(.array([]))),
    ])

    static let takeAction: [Field] = [
        Field("deadline", "form_ta_deadline", .day, hint: "form_hint_day", code: true),
        Field("preferred_languages", "form_ta_preferred_languages", .list(maxCount: 10_000, omitEmpty: false),
              hint: "form_hint_languages", code: true),
        Field("targets", "form_ta_targets", .group([
            Field("target", "form_ta_target", .text, hint: "form_hint_target_id", required: true, code: true),
        ], item: "form_ta_target", maxCount: 100, omitEmpty: false)),
        Field("copies_to", "form_ta_copies_to", .group([
            Field("text", "form_copy_text", .text, hint: "form_hint_copy_text", max: 2000, prose: true),
            Field("target", "form_copy_target", .text, hint: "form_hint_target_id", code: true),
            Field("diplomatic_representatives_of", "form_copy_diplomatic", .text, hint: "form_hint_country", code: true),
        ], item: "form_copy", maxCount: 100, omitEmpty: false)),
        Field("letter", "form_ta_letter", .markdown, hint: "form_hint_markdown", max: 50_000, prose: true),
        Field("other_channels", "form_ta_other_channels", .markdown, hint: "form_hint_markdown", max: 20_000, prose: true),
    ]

    /// One document of an urgent action (its number and siblings are the page's business).
    static let document = Schema(name: "document", fields: [
        Field("id", "form_doc_id", .text, hint: "form_hint_slug", required: true, code: true),
        Field("sequence", "form_doc_sequence", .integer, hint: "form_hint_sequence", required: true, code: true),
        Field("kind", "form_doc_kind", .select(options(DocumentKind.self, "form_kind_"), blank: "form_choose"), required: true),
        Field("outcome", "form_doc_outcome", .select(options(OutcomeResult.self, "outcome_"), blank: "form_none"), hint: "form_hint_outcome"),
        Field("no_further_action", "form_doc_no_further_action", .checkbox(whenFalse: Condition(key: "kind", value: DocumentKind.outcome.rawValue)),
              hint: "form_hint_no_further_action"),
        Field("language", "form_doc_language", .text, hint: "form_hint_language", required: true, code: true),
        Field("translation_of", "form_doc_translation_of", .text, hint: "form_hint_translation_of", code: true),
        Field("ai_index", "form_doc_ai_index", .text, hint: "form_hint_ai_index", code: true),
        Field("published", "form_doc_published", .day, hint: "form_hint_day", required: true, code: true),
        Field("title", "form_doc_title", .text, required: true, max: 300, prose: true),
        Field("summary", "form_doc_summary", .textarea, max: 5000, prose: true),
        Field("body", "form_doc_body", .markdown, hint: "form_hint_markdown", required: true, max: 200_000, prose: true),
        Field("take_action", "form_take_action", .object(takeAction), hint: "form_hint_take_action"),
        Field("additional_information", "form_doc_additional", .markdown, hint: "form_hint_markdown", max: 200_000, prose: true),
        Field("quote", "form_quote", .object([
            Field("text", "form_quote_text", .textarea, required: true, max: 5000, prose: true),
            Field("by", "form_quote_by", .text, max: 300, prose: true),
        ])),
        Field("corrections", "form_corrections", .group([
            Field("date", "form_correction_date", .day, hint: "form_hint_day", required: true, code: true),
            Field("note", "form_correction_note", .textarea, required: true, max: Correction.maxNoteLength, prose: true),
        ], item: "form_correction", maxCount: Correction.maxCount, omitEmpty: true)),
    ])

    /// An official in the directory.
    static let target = Schema(name: "target", fields: [
        Field("id", "form_target_id", .text, hint: "form_hint_slug", required: true, code: true),
        Field("title", "form_target_title", .text, hint: "form_hint_target_title", required: true, max: 300),
        Field("name", "form_target_name", .text, max: 300),
        Field("organisation", "form_target_organisation", .text, max: 300),
        Field("address", "form_target_address", .lines(maxCount: 10_000, omitEmpty: false), hint: "form_hint_address"),
        Field("country", "form_target_country", .text, hint: "form_hint_country", code: true),
        Field("email", "form_target_email", .text, max: 254, code: true),
        Field("fax", "form_target_fax", .text, max: 64, code: true),
        Field("phone", "form_target_phone", .text, max: 64, code: true),
        Field("social", "form_target_social", .map(keyLabel: "form_social_key", valueLabel: "form_social_value", maxCount: 100, omitEmpty: true),
              hint: "form_hint_social"),
        Field("web_form", "form_target_web_form", .text, hint: "form_hint_web_form", max: 2000, code: true),
        Field("salutation", "form_target_salutation", .map(keyLabel: "form_salutation_key", valueLabel: "form_salutation_value",
                                                           maxCount: 200, omitEmpty: false), hint: "form_hint_salutation"),
        Field("languages", "form_target_languages", .list(maxCount: 10_000, omitEmpty: false), hint: "form_hint_languages", code: true),
        Field("valid_from", "form_target_valid_from", .date, hint: "form_hint_date", code: true),
        Field("valid_to", "form_target_valid_to", .date, hint: "form_hint_date", code: true),
        Field("channel_notes", "form_target_channel_notes", .textarea, hint: "form_hint_channel_notes", max: 2000),
        Field("successor_of", "form_target_successor_of", .text, hint: "form_hint_successor_of", code: true),
        Field("represents", "form_target_represents", .text, hint: "form_hint_represents", code: true),
        Field("accredited_to", "form_target_accredited_to", .text, hint: "form_hint_accredited_to", code: true),
    ])

    // MARK: - Paths

    /// The element id of a field path: `people[0].name` → `f-people-0-name`.
    static func id(_ path: String) -> String {
        "f-" + path.replacingOccurrences(of: "[", with: "-").replacingOccurrences(of: "]", with: "")
            .replacingOccurrences(of: ".", with: "-")
    }

    static func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }

    /// The path one step up: `a.b[1].c` → `a.b[1]` → `a.b` → `a` → `` (nil at the top).
    static func parent(_ path: String) -> String? {
        guard !path.isEmpty else { return nil }
        if path.hasSuffix("]"), let open = path.lastIndex(of: "[") { return String(path[..<open]) }
        if let dot = path.lastIndex(of: ".") { return String(path[..<dot]) }
        return ""
    }

    /// One step of a field name: a member, with an index for an item of a group or map.
    struct Step: Equatable {
        let key: String
        let index: Int?
    }

    /// Splits a field name into steps; nil for anything that is not a well-formed name
    /// (negative or huge indices, odd characters, long or deep names).
    static func steps(_ name: String) -> [Step]? {
        guard !name.isEmpty, name.utf8.count <= 200 else { return nil }
        var out: [Step] = []
        for part in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard out.count < 8 else { return nil }
            var key = part
            var index: Int?
            if let open = part.firstIndex(of: "[") {
                guard part.hasSuffix("]") else { return nil }
                key = part[..<open]
                let digits = part[part.index(after: open)..<part.index(before: part.endIndex)]
                guard (1...6).contains(digits.count), digits.unicodeScalars.allSatisfy({ $0.isASCII && ("0"..."9").contains($0) }) else { return nil }
                index = Int(digits)
            }
            guard !key.isEmpty, key.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || $0 == "_" }) else { return nil }
            out.append(Step(key: String(key), index: index))
        }
        return out
    }

    // MARK: - Rendering

    /// What `partials/edit-form.html` shows: the problem summary and the rows of the form.
    struct View: Encodable, Sendable, Equatable {
        /// Problems for the top of the form: each with a link to its field when it has one.
        var summary: [SummaryItem]
        var rows: [Row]

        /// The view as a template value (for a page that builds its values by hand).
        var templateValue: TemplateValue { (try? TemplateValue(encoding: self)) ?? .object([:]) }

        static let example = View(
            summary: [SummaryItem(message: "Person 1 › Name: is required", href: "#f-people-0-name")],
            rows: [Row(groupStart: true, groupEnd: true, field: true, button: true, item: true, level: "2", id: "f-people-0-name",
                       name: "people[0].name", label: "Name", legend: "Person 1", hint: "Lower-case letters, digits and hyphens",
                       hintID: "f-people-0-name-hint", error: "is required", errorID: "f-people-0-name-error",
                       describedBy: "f-people-0-name-hint f-people-0-name-error", invalid: true, required: true, ariaRequired: true, autofocus: true,
                       input: true, type: "text", inputmode: "numeric", textarea: true, height: "8", markdown: true,
                       select: true, options: [OptionView(value: "imprisoned", label: "Imprisoned", selected: true)],
                       checkbox: true, checked: true, value: "Emir-Usein Kuku", dir: "auto", lang: "en",
                       preview: HTML.markdown("**Free** them."), buttonName: "remove", buttonValue: "people[0]",
                       buttonContext: "Person 1")])
    }

    struct SummaryItem: Encodable, Sendable, Equatable {
        var message: String
        /// `#field-id`, or empty when the problem belongs to no field.
        var href: String
    }

    struct OptionView: Encodable, Sendable, Equatable {
        var value: String
        var label: String
        var selected: Bool
    }

    /// One row of the form. Exactly one of `groupStart`, `groupEnd`, `field`, `button` is set;
    /// a field sets one of `input`, `textarea`, `select`, `checkbox`. Empty strings are absent values.
    struct Row: Encodable, Sendable, Equatable {
        var groupStart = false
        var groupEnd = false
        var field = false
        var button = false
        /// A group start that is one item of a repeated group.
        var item = false
        /// Nesting depth, from 1.
        var level = "1"
        var id = ""
        var name = ""
        var label = ""
        /// A group's legend.
        var legend = ""
        var hint = ""
        var hintID = ""
        var error = ""
        var errorID = ""
        /// The ids of the hint and the error message, space-separated.
        var describedBy = ""
        var invalid = false
        /// Shown as "(required)" in the label; `ariaRequired` also says it to assistive technology
        /// (not on a date input, where ARIA does not allow it).
        var required = false
        var ariaRequired = false
        var autofocus = false
        var input = false
        var type = "text"
        var inputmode = ""
        var textarea = false
        /// Rows of a textarea.
        var height = "3"
        var markdown = false
        var select = false
        var options: [OptionView] = []
        var checkbox = false
        var checked = false
        var value = ""
        var dir = "auto"
        var lang = ""
        /// The Markdown shown as it will read (when asked for).
        var preview: TrustedHTML = .empty
        /// `add` or `remove`, and the path it acts on.
        var buttonName = ""
        var buttonValue = ""
        /// Which item a remove button removes, for screen readers ("Person 2").
        var buttonContext = ""
    }

    /// The form for `value` (a draft's JSON), with `issues` (paths like `$.people[0].name`, from the
    /// domain reader or from `read`) shown at their fields and in the summary. Issues whose path is
    /// no field of the form are in the summary only. `preview` renders each Markdown field as it will
    /// read; `focus` is the id of an element to give `autofocus` (what `read` says after a button).
    static func render(_ schema: Schema, value: JSONValue, issues: [ValidationIssue] = [], strings: Strings,
                       preview: Bool = false, focus: String? = nil) -> View {
        let r = Renderer(strings: strings, preview: preview, focus: focus)
        r.fields(schema.fields, value.objectValue ?? [:], prefix: "", context: [], level: 1, language: "")
        return View(summary: r.place(issues), rows: r.rows)
    }

    final class Renderer {
        let t: Strings
        let preview: Bool
        let focus: String?
        var rows: [Row] = []
        /// Field paths (and aliases: a term's `life`/`death`, a map's `salutation.en`) → row, and
        /// the words that say where it is ("Person 2 › Name").
        var targets: [String: (row: Int, context: String)] = [:]

        init(strings: Strings, preview: Bool, focus: String?) {
            t = strings; self.preview = preview; self.focus = focus
        }

        func item(_ prefix: String, _ n: Int) -> String { t.format(prefix + "_item", ["n": String(n)]) }

        /// Adds a row; `paths` are the issue paths it answers for.
        func add(_ row: Row, paths: [String] = [], context: [String] = []) {
            var row = row
            if let focus, row.id == focus { row.autofocus = true }
            rows.append(row)
            let words = context.joined(separator: " › ")
            for p in paths { targets[p] = (rows.count - 1, words) }
        }

        func fields(_ fields: [Field], _ object: [String: JSONValue], prefix: String, context: [String], level: Int, language: String) {
            // The content's language: a document's own, inherited by what is nested in it.
            var language = language
            if let l = object["language"]?.stringValue, LanguageTag.problem(l) == nil { language = l }
            for f in fields {
                let path = EditForm.join(prefix, f.key)
                let value = object[f.key]
                var lang = f.prose ? language : ""
                if let key = f.languageKey, let l = object[key]?.stringValue, LanguageTag.problem(l) == nil { lang = l }
                switch f.kind {
                case .fixed: continue
                case .object(let sub):
                    start(f, path: path, legend: t[f.label], context: context + [t[f.label]], level: level)
                    self.fields(sub, value?.objectValue ?? [:], prefix: path, context: context + [t[f.label]], level: level + 1, language: language)
                    rows.append(Row(groupEnd: true, level: String(level)))
                case .group(let sub, let itemPrefix, _, _):
                    start(f, path: path, legend: t[f.label], context: context + [t[f.label]], level: level)
                    for (i, element) in (value?.arrayValue ?? []).enumerated() {
                        let itemPath = "\(path)[\(i)]", words = item(itemPrefix, i + 1)
                        add(Row(groupStart: true, item: true, level: String(level + 1), id: EditForm.id(itemPath), legend: words),
                            paths: [itemPath], context: context + [words])
                        self.fields(sub, element.objectValue ?? [:], prefix: itemPath, context: context + [words], level: level + 2, language: language)
                        add(Row(button: true, level: String(level + 1), id: EditForm.id(itemPath) + "-remove", label: t[itemPrefix + "_remove"],
                                buttonName: "remove", buttonValue: itemPath, buttonContext: words))
                        rows.append(Row(groupEnd: true, level: String(level + 1)))
                    }
                    add(Row(button: true, level: String(level), id: EditForm.id(path) + "-add", label: t[itemPrefix + "_add"],
                            buttonName: "add", buttonValue: path))
                    rows.append(Row(groupEnd: true, level: String(level)))
                case .map(let keyLabel, let valueLabel, _, _):
                    start(f, path: path, legend: t[f.label], context: context + [t[f.label]], level: level)
                    // The pairs by key, and an empty one to add another.
                    let pairs = (value?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + [("", JSONValue.null)]
                    for (i, pair) in pairs.enumerated().map({ ($0.offset, (key: $0.element.0, value: $0.element.1)) }) {
                        let pairPath = "\(path)[\(i)]", n = ["n": String(i + 1)]
                        let valueLang = LanguageTag.problem(pair.key) == nil && f.key == "salutation" ? pair.key : ""
                        var keyRow = input(f, path: pairPath + ".key", label: t.format(keyLabel, n), value: pair.key, required: false, lang: "")
                        keyRow.dir = "ltr"
                        add(keyRow, paths: [pairPath + ".key"] + (pair.key.isEmpty ? [] : [path + "." + pair.key]),
                            context: context + [t[f.label], t.format(keyLabel, n)])
                        let valueRow = input(f, path: pairPath + ".value", label: t.format(valueLabel, n), value: Self.text(pair.value),
                                             required: false, lang: valueLang)
                        add(valueRow, paths: [pairPath + ".value"], context: context + [t[f.label], t.format(valueLabel, n)])
                    }
                    rows.append(Row(groupEnd: true, level: String(level)))
                default:
                    let isTerm = { if case .term = f.kind { return true } else { return false } }()
                    add(field(f, path: path, value: value, object: object, lang: lang, level: level),
                        paths: [path] + (isTerm ? [EditForm.join(prefix, "life"), EditForm.join(prefix, "death")] : []),
                        context: context + [t[f.label]])
                }
            }
        }

        /// A fieldset's opening row, with the field's hint.
        func start(_ f: Field, path: String, legend: String, context: [String], level: Int) {
            var row = Row(groupStart: true, level: String(level), id: EditForm.id(path), legend: legend)
            if let hint = f.hint { row.hint = t[hint]; row.hintID = row.id + "-hint"; row.describedBy = row.hintID }
            add(row, paths: [path], context: context)
        }

        /// A one-line input (or a textarea when the value has line breaks, so that nothing is lost).
        func input(_ f: Field, path: String, label: String, value: String, required: Bool, lang: String) -> Row {
            var row = Row(field: true, id: EditForm.id(path), name: path, label: label, required: required, ariaRequired: required, value: value)
            if value.contains(where: { $0 == "\n" || $0 == "\r" }) { row.textarea = true } else { row.input = true }
            row.dir = f.code ? "ltr" : "auto"
            row.lang = lang
            return row
        }

        func field(_ f: Field, path: String, value: JSONValue?, object: [String: JSONValue], lang: String, level: Int) -> Row {
            var row = input(f, path: path, label: t[f.label], value: Self.text(value), required: f.required, lang: lang)
            row.level = String(level)
            if let hint = f.hint { row.hint = t[hint]; row.hintID = row.id + "-hint"; row.describedBy = row.hintID }
            switch f.kind {
            case .textarea, .markdown:
                row.input = false; row.textarea = true
                let lines = row.value.split(separator: "\n", omittingEmptySubsequences: false).count
                let large = { if case .markdown = f.kind { return true } else { return false } }()
                row.height = String(min(max(lines + 1, large ? 8 : 3), 30))
                if large {
                    row.markdown = true
                    if preview, !row.value.isEmpty { row.preview = HTML.markdown(row.value) }
                }
            case .select(let options, let blank):
                row.input = false; row.textarea = false; row.select = true
                row.options = (blank.map { [Option("", $0)] } ?? []).map { OptionView(value: $0.value, label: t[$0.label], selected: row.value.isEmpty) }
                    + options.map { OptionView(value: $0.value, label: t[$0.label], selected: $0.value == row.value) }
                if !row.value.isEmpty, !options.contains(where: { $0.value == row.value }) {
                    // A value the form does not offer stays, for the domain reader to name.
                    row.options.append(OptionView(value: row.value, label: row.value, selected: true))
                }
            case .term:
                let current: String
                if object["life"] == .bool(true) { current = "life" } else if object["death"] == .bool(true) { current = "death" }
                else if object["years"] != nil || object["months"] != nil { current = "years" } else { current = "" }
                row.input = false; row.textarea = false; row.select = true; row.value = current
                row.options = [Option("", "form_choose"), Option("years", "form_term_years"), Option("life", "form_term_life"),
                               Option("death", "form_term_death")].map { OptionView(value: $0.value, label: t[$0.label], selected: $0.value == current) }
            case .checkbox:
                row.input = false; row.textarea = false; row.checkbox = true
                row.checked = value == .bool(true)
                row.value = "true"
            case .integer:
                if row.input { row.inputmode = "numeric" }
            case .day:
                // The browser empties a date input whose value is not a day: such a value is shown as text.
                if row.input, PartialDate(row.value)?.precision == .day || row.value.isEmpty { row.type = "date"; row.ariaRequired = false }
            case .lines:
                row.input = false; row.textarea = true
                let items = value?.arrayValue?.map { Self.text($0) }
                if let items { row.value = items.joined(separator: "\n") }
                row.height = String(min(max((items?.count ?? 0) + 1, 3), 30))
            case .list:
                if let items = value?.arrayValue?.map({ Self.text($0) }) { row.value = items.joined(separator: ", ") }
                if row.value.contains(where: { $0 == "\n" || $0 == "\r" }) { row.input = false; row.textarea = true } else { row.input = true; row.textarea = false }
            case .text, .date, .object, .group, .map, .fixed: break
            }
            return row
        }

        /// A JSON value as the text of an input.
        static func text(_ v: JSONValue?) -> String {
            switch v {
            case .string(let s)?: return s
            case .number(let n)?: return n.rounded() == n && abs(n) < 9e15 ? String(Int64(n)) : String(n)
            case .bool(let b)?: return b ? "true" : "false"
            case .array(let a)?: return a.map { text($0) }.joined(separator: ", ")
            case .object?, .null?, nil: return ""
            }
        }

        /// Puts each issue at its field (or the group it belongs to), and returns the summary.
        func place(_ issues: [ValidationIssue]) -> [SummaryItem] {
            var summary: [SummaryItem] = []
            var seen: Set<ValidationIssue> = []
            // `read` and the domain reader may say the same thing (a text past its limit): once is enough.
            for issue in issues where seen.insert(issue).inserted {
                var path = issue.path
                if path == "$" { path = "" } else if path.hasPrefix("$.") { path = String(path.dropFirst(2)) }
                var candidate: String? = path
                var found: (row: Int, context: String)?
                while let c = candidate, !c.isEmpty {
                    if let hit = targets[c] { found = hit; break }
                    candidate = EditForm.parent(c)
                }
                guard let (index, context) = found.map({ ($0.row, $0.context) }) else {
                    let text = Localized.strings.text(issue)
                    summary.append(SummaryItem(message: path.isEmpty ? text : "\(path): \(text)", href: ""))
                    continue
                }
                var row = rows[index]
                let text = Localized.strings.text(issue)
                row.error = row.error.isEmpty ? text : row.error + " " + text
                if row.errorID.isEmpty {
                    row.errorID = row.id + "-error"
                    row.describedBy = row.describedBy.isEmpty ? row.errorID : row.describedBy + " " + row.errorID
                }
                row.invalid = true
                rows[index] = row
                summary.append(SummaryItem(message: context.isEmpty ? text : "\(context): \(text)", href: "#" + row.id))
            }
            return summary
        }
    }

    // MARK: - Reading

    enum Action: Equatable, Sendable {
        case none
        /// An item was added to the group at this path (form indices, as posted).
        case add(String)
        /// The item at this path was removed.
        case remove(String)
    }

    struct Reading: Sendable {
        /// The JSON for the domain reader.
        var value: JSONValue
        /// The add or remove button pressed (already applied to `value`), or none (save, preview…).
        var action: Action
        /// Problems found while reading (too many items, a text past its limit, a map pair without a
        /// key). Paths are like the domain's (`$.people`). When there are any, show the form again
        /// with them: the value must not be stored.
        var issues: [ValidationIssue]
        /// The element to give focus when the form is shown again after a button: the first field of
        /// the new item, or the add button of the group an item was removed from.
        var focus: String?
    }

    /// Reads a posted form (pairs in the order posted, as `formPairs` gives them). Unknown names,
    /// malformed names and indices are ignored; a name given twice counts once (the first).
    static func read(_ schema: Schema, form: [(name: String, value: String)]) -> Reading {
        let root = Node()
        var addPath: [Step]?, removePath: [Step]?
        var addName = "", removeName = ""
        for (name, value) in form.prefix(maxPairs) {
            if name == "add" { if addPath == nil, let s = steps(value) { addPath = s; addName = value }; continue }
            if name == "remove" { if removePath == nil, let s = steps(value) { removePath = s; removeName = value }; continue }
            guard let s = steps(name), accepts(s[...], schema.fields) else { continue }
            root.insert(s, value: value, fields: schema.fields)
        }
        var issues: [ValidationIssue] = []
        var action = Action.none
        var marked: Marked?
        if let removePath, let located = root.items(at: removePath, fields: schema.fields, item: true),
           let index = located.1, located.0.byIndex.removeValue(forKey: index) != nil {
            let items = located.0
            action = .remove(removeName)
            marked = .removedFrom(items)
        } else if let addPath, let items = root.items(at: addPath, fields: schema.fields, item: false)?.0,
                  let field = field(at: addPath, in: schema.fields) {
            if case .group(_, _, let maxCount, _) = field.kind {
                if items.byIndex.count >= maxCount {
                    issues.append(ValidationIssue(path: "$." + addName, Message.catalogue("issue_has_most_items_it_can", ["max": "\(maxCount)"])))
                } else {
                    let node = Node()
                    items.byIndex[(items.byIndex.keys.max() ?? -1) + 1] = node
                    action = .add(addName)
                    marked = .added(node)
                }
            }
        }
        let builder = Builder(marked: marked)
        let value = builder.object(schema.fields, root, path: "")
        return Reading(value: .object(value), action: action, issues: issues + builder.issues, focus: builder.focus)
    }

    /// Reads a form given as a dictionary (one value a name, order of no importance).
    static func read(_ schema: Schema, form: [String: String]) -> Reading {
        read(schema, form: form.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) })
    }

    /// The name/value pairs of an `application/x-www-form-urlencoded` body, in order (Vapor's form
    /// decoder would read `people[0].name` as nesting and lose the order). Undecodable pairs are skipped.
    static func formPairs(urlencoded body: String) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        for part in body.split(separator: "&", omittingEmptySubsequences: true) {
            guard out.count < maxPairs else { break }
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(kv[0]), let value = kv.count > 1 ? decode(kv[1]) : "" else { continue }
            out.append((name, value))
        }
        return out
    }

    /// Whether `steps` name an input of the form (a field that takes a value, a map's key or value).
    static func accepts(_ steps: ArraySlice<Step>, _ fields: [Field]) -> Bool {
        guard let step = steps.first, let f = fields.first(where: { $0.key == step.key }) else { return false }
        let rest = steps.dropFirst()
        switch f.kind {
        case .group(let sub, _, _, _): return step.index != nil && accepts(rest, sub)
        case .object(let sub): return step.index == nil && accepts(rest, sub)
        case .map: return step.index != nil && rest.count == 1 && rest.first!.index == nil && ["key", "value"].contains(rest.first!.key)
        case .fixed: return false
        default: return step.index == nil && rest.isEmpty
        }
    }

    static func field(at steps: [Step], in fields: [Field]) -> Field? {
        var fields = fields
        for (i, step) in steps.enumerated() {
            guard let f = fields.first(where: { $0.key == step.key }) else { return nil }
            if i == steps.count - 1 { return f }
            switch f.kind {
            case .group(let sub, _, _, _): guard step.index != nil else { return nil }; fields = sub
            case .object(let sub): guard step.index == nil else { return nil }; fields = sub
            default: return nil
            }
        }
        return nil
    }

    /// What the posted names say, shaped by the schema: only names the schema has are kept.
    final class Node {
        var leaves: [String: String] = [:]
        var objects: [String: Node] = [:]
        var groups: [String: Items] = [:]

        /// Stores `value` at `steps`, which `accepts` has checked against `fields`.
        func insert(_ steps: [Step], value: String, fields: [Field]) {
            guard let step = steps.first, let f = fields.first(where: { $0.key == step.key }) else { return }
            let rest = Array(steps.dropFirst())
            switch f.kind {
            case .group(let sub, _, let maxCount, _):
                guard let i = step.index, let child = items(f.key).node(i, maxCount: maxCount) else { return }
                child.insert(rest, value: value, fields: sub)
            case .map(_, _, let maxCount, _):
                guard let i = step.index, let leaf = rest.first?.key, let child = items(f.key).node(i, maxCount: maxCount) else { return }
                if child.leaves[leaf] == nil { child.leaves[leaf] = value }
            case .object(let sub):
                let child = objects[f.key] ?? Node()
                objects[f.key] = child
                child.insert(rest, value: value, fields: sub)
            case .fixed:
                return
            default:
                guard step.index == nil, rest.isEmpty else { return }
                if leaves[f.key] == nil { leaves[f.key] = value }
            }
        }

        func items(_ key: String) -> Items {
            if let i = groups[key] { return i }
            let i = Items()
            groups[key] = i
            return i
        }

        /// The items of the group (or map) at `steps`, and for `item: true` the index of the item
        /// named by the last step. Nil when the path names no group of the form as posted.
        func items(at steps: [Step], fields: [Field], item: Bool) -> (Items, Int?)? {
            guard let step = steps.first, let f = fields.first(where: { $0.key == step.key }) else { return nil }
            let rest = Array(steps.dropFirst())
            switch f.kind {
            case .group(let sub, _, _, _):
                if rest.isEmpty {
                    if item { guard let i = step.index else { return nil }; return groups[f.key].map { ($0, i) } }
                    guard step.index == nil else { return nil }
                    return (self.items(f.key), nil)
                }
                guard let i = step.index, let child = groups[f.key]?.byIndex[i] else { return nil }
                return child.items(at: rest, fields: sub, item: item)
            case .object(let sub):
                guard step.index == nil, !rest.isEmpty else { return nil }
                let child = objects[f.key] ?? Node()
                objects[f.key] = child
                return child.items(at: rest, fields: sub, item: item)
            default:
                return nil
            }
        }
    }

    /// The items of one group or map, by their posted index (closed up, in order, when built).
    final class Items {
        var byIndex: [Int: Node] = [:]
        /// More distinct items were posted than the group may hold.
        var overflow = false

        func node(_ i: Int, maxCount: Int) -> Node? {
            if let n = byIndex[i] { return n }
            guard byIndex.count < maxCount else { overflow = true; return nil }
            let n = Node()
            byIndex[i] = n
            return n
        }
    }

    enum Marked {
        case added(Node)
        case removedFrom(Items)
    }

    /// Builds JSON from what was posted, in the shape the domain's `.json` writes.
    final class Builder {
        let marked: Marked?
        var issues: [ValidationIssue] = []
        var focus: String?

        init(marked: Marked?) { self.marked = marked }

        func problem(_ path: String, _ message: Message) { issues.append(ValidationIssue(path: "$." + path, message)) }

        static func normalised(_ s: String) -> String {
            s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        }

        static func blank(_ s: String) -> Bool { s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }

        /// Empty arrays and objects (and objects of only those) hold nothing an editor typed.
        static func isEmpty(_ v: JSONValue) -> Bool {
            switch v {
            case .array(let a): return a.isEmpty
            case .object(let o): return o.values.allSatisfy(isEmpty)
            default: return false
            }
        }

        func string(_ f: Field, _ raw: String, path: String, multiline: Bool) -> JSONValue? {
            let s = multiline ? Self.normalised(raw) : raw
            if Self.blank(s) { return nil }
            if s.count > f.maxLength { problem(path, Message.catalogue("issue_too_long", ["count": "\(s.count)", "max": "\(f.maxLength)"])) }
            return .string(s)
        }

        func object(_ fields: [Field], _ node: Node, path: String) -> [String: JSONValue] {
            var out: [String: JSONValue] = [:]
            for f in fields {
                let p = EditForm.join(path, f.key)
                let raw = node.leaves[f.key]
                switch f.kind {
                case .fixed(let v): out[f.key] = v
                case .text, .date, .day:
                    out[f.key] = raw.flatMap { string(f, $0, path: p, multiline: $0.contains("\n") || $0.contains("\r")) }
                case .textarea, .markdown:
                    out[f.key] = raw.flatMap { string(f, $0, path: p, multiline: true) }
                case .select:
                    if let raw, !Self.blank(raw) { out[f.key] = .string(raw) }
                case .integer:
                    if let raw, !Self.blank(raw) {
                        let s = raw.trimmingCharacters(in: .whitespaces)
                        if let n = Int(s), abs(n) < 1_000_000_000_000_000 { out[f.key] = .number(Double(n)) } else { out[f.key] = .string(String(raw.prefix(200))) }
                    }
                case .checkbox(let whenFalse):
                    if raw != nil {
                        out[f.key] = .bool(true)
                    } else if let c = whenFalse, node.leaves[c.key] == c.value {
                        out[f.key] = .bool(false)
                    }
                case .term:
                    if raw == "life" { out["life"] = .bool(true) } else if raw == "death" { out["death"] = .bool(true) }
                case .lines(let maxCount, let omitEmpty), .list(let maxCount, let omitEmpty):
                    let isLines = { if case .lines = f.kind { return true } else { return false } }()
                    let text = Self.normalised(raw ?? "")
                    var items: [JSONValue] = []
                    for part in text.split(separator: isLines ? "\n" : ",", omittingEmptySubsequences: true) {
                        let item = part.trimmingCharacters(in: .whitespaces)
                        if item.isEmpty { continue }
                        if items.count == maxCount { problem(p, Message.catalogue("issue_has_too_many_items_at", ["max": "\(maxCount)"])); break }
                        if item.count > f.maxLength { problem("\(p)[\(items.count)]", Message.catalogue("issue_too_long", ["count": "\(item.count)", "max": "\(f.maxLength)"])) }
                        items.append(.string(item))
                    }
                    if !(items.isEmpty && omitEmpty) { out[f.key] = .array(items) }
                case .map(_, _, let maxCount, let omitEmpty):
                    var map: [String: JSONValue] = [:]
                    let group = node.groups[f.key]
                    if group?.overflow == true { problem(p, Message.catalogue("issue_has_too_many_entries_at", ["max": "\(maxCount)"])) }
                    var n = 0
                    for (_, pair) in (group?.byIndex ?? [:]).sorted(by: { $0.key < $1.key }) {
                        let key = (pair.leaves["key"] ?? "").trimmingCharacters(in: .whitespaces)
                        let value = pair.leaves["value"] ?? ""
                        defer { n += 1 }
                        if key.isEmpty && Self.blank(value) { continue }
                        if key.isEmpty { problem("\(p)[\(n)].key", Message.catalogue("issue_give_key_value")); continue }
                        if map[key] != nil { problem("\(p)[\(n)].key", Message.catalogue("issue_given_twice", ["key": "\(key)"])); continue }
                        if value.count > f.maxLength { problem("\(p)[\(n)].value", Message.catalogue("issue_too_long", ["count": "\(value.count)", "max": "\(f.maxLength)"])) }
                        map[key] = .string(Self.blank(value) ? "" : value)
                    }
                    if !(map.isEmpty && omitEmpty) { out[f.key] = .object(map) }
                case .object(let sub):
                    if let child = node.objects[f.key] {
                        let built = object(sub, child, path: p)
                        if !Self.isEmpty(.object(built)) { out[f.key] = .object(built) }
                    }
                case .group(let sub, _, let maxCount, let omitEmpty):
                    let group = node.groups[f.key]
                    if group?.overflow == true { problem(p, Message.catalogue("issue_has_too_many_items_at", ["max": "\(maxCount)"])) }
                    var items: [JSONValue] = []
                    for (_, child) in (group?.byIndex ?? [:]).sorted(by: { $0.key < $1.key }) {
                        let itemPath = "\(p)[\(items.count)]"
                        if case .added(let node)? = marked, node === child, let first = sub.first(where: {
                            if case .fixed = $0.kind { return false } else { return true }
                        }) {
                            focus = EditForm.id(EditForm.join(itemPath, first.key))
                        }
                        items.append(.object(object(sub, child, path: itemPath)))
                    }
                    if case .removedFrom(let g)? = marked, let group, g === group { focus = EditForm.id(p) + "-add" }
                    if !(items.isEmpty && omitEmpty) { out[f.key] = .array(items) }
                }
            }
            return out
        }
    }
}
