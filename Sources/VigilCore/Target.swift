import Foundation

/// An official in the directory: who to write to, where, and how to greet them.
public struct Target: Hashable, Sendable, Identifiable {
    public var id: String
    public var title: String
    public var name: String?
    public var organisation: String?
    public var address: [String]
    public var country: String?
    public var email: String?
    public var fax: String?
    public var phone: String?
    /// Social network → handle, e.g. `["twitter": "@example"]`.
    public var social: [String: String]
    public var webForm: String?
    /// Language tag → salutation, e.g. `["en": "Dear Prosecutor General"]`.
    public var salutation: [String: String]
    /// Languages the official prefers to be written to in.
    public var languages: [String]
    public var validFrom: PartialDate?
    public var validTo: PartialDate?
    public var channelNotes: String?
    /// The id of the official this one replaced in office (`successor_of`): replacing an official
    /// is a new target, and the old one stays, so documents still show whom they addressed.
    public var successorOf: String?
    /// For a diplomatic mission: the country it represents and the country it is accredited to
    /// (ISO 3166-1 alpha-2), so that "the diplomatic representatives of X accredited to your
    /// country" can name the embassy of the supporter's country.
    public var represents: String?
    public var accreditedTo: String?

    public init(id: String, title: String, name: String? = nil, organisation: String? = nil, address: [String] = [],
                country: String? = nil, email: String? = nil, fax: String? = nil, phone: String? = nil,
                social: [String: String] = [:], webForm: String? = nil, salutation: [String: String] = [:],
                languages: [String] = [], validFrom: PartialDate? = nil, validTo: PartialDate? = nil, channelNotes: String? = nil,
                successorOf: String? = nil, represents: String? = nil, accreditedTo: String? = nil) {
        self.id = id; self.title = title; self.name = name; self.organisation = organisation; self.address = address
        self.country = country; self.email = email; self.fax = fax; self.phone = phone; self.social = social
        self.webForm = webForm; self.salutation = salutation; self.languages = languages
        self.validFrom = validFrom; self.validTo = validTo; self.channelNotes = channelNotes
        self.successorOf = successorOf; self.represents = represents; self.accreditedTo = accreditedTo
    }

    /// The salutation to use in `language`, falling back to English, then any.
    public func salutation(for language: String) -> String? {
        salutation[language] ?? salutation[String(language.prefix(while: { $0 != "-" }))]
            ?? salutation["en"] ?? salutation.sorted(by: { $0.key < $1.key }).first?.value
    }

    /// Whether the official is in office on `day` (a `YYYY-MM-DD` string).
    public func isValid(on day: String) -> Bool {
        if let validFrom, validFrom.earliest > day { return false }
        if let validTo, validTo.latest < day { return false }
        return true
    }

    /// Whether this is the mission of `country` accredited to `host`.
    public func isMission(of country: String, accreditedTo host: String) -> Bool {
        represents == country && accreditedTo == host
    }

    static let fields: Set<String> = ["id", "title", "name", "organisation", "address", "country", "email", "fax", "phone",
                                      "social", "web_form", "salutation", "languages", "valid_from", "valid_to", "channel_notes",
                                      "successor_of", "represents", "accredited_to"]

    /// Reads a target, recording every problem in `diagnostics`. Nil when it cannot be used at all.
    public static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Target? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let id = r.string("id", required: true)
        if let id, let p = Slug.issue(id) { d.add(r.child("id"), p) }
        let title = r.string("title", required: true, maxLength: 300)
        var t = Target(id: id ?? "", title: title ?? "")
        t.name = r.string("name", maxLength: 300)
        t.organisation = r.string("organisation", maxLength: 300)
        t.address = r.strings("address")
        if t.address.count > 12 { d.add(r.child("address"), Message("issue_has_more_than_12_lines", "has more than 12 lines")) }
        t.country = r.string("country")
        if let c = t.country, let p = CountryCode.issue(c) { d.add(r.child("country"), p) }
        t.email = r.string("email", maxLength: 254)
        if let e = t.email, let p = EmailAddress.issue(e) { d.add(r.child("email"), p) }
        t.fax = r.string("fax", maxLength: 64)
        t.phone = r.string("phone", maxLength: 64)
        t.social = r.stringMap("social", allowNullValues: true, validateKey: { Slug.issue($0).map { Message("issue_network_name", "network name {problem}", ["problem": $0]) } })
        t.webForm = r.string("web_form", maxLength: 2000)
        if let w = t.webForm, let p = WebURL.issue(w) { d.add(r.child("web_form"), p) }
        t.salutation = r.stringMap("salutation", validateKey: LanguageTag.issue)
        t.languages = r.strings("languages", validate: LanguageTag.issue)
        t.validFrom = r.date("valid_from")
        t.validTo = r.date("valid_to")
        if let f = t.validFrom, let to = t.validTo, f.earliest > to.latest {
            d.add(r.child("valid_to"), Message("issue_must_not_before_valid_from", "must not be before valid_from ({date})", texts: ["date": "\(f)"]))
        }
        t.channelNotes = r.string("channel_notes", maxLength: 2000)
        t.successorOf = r.string("successor_of")
        if let s = t.successorOf {
            if let p = Slug.issue(s) { d.add(r.child("successor_of"), p) } else if s == id { d.add(r.child("successor_of"), Message("issue_target_cannot_succeed_itself", "a target cannot succeed itself")) }
        }
        t.represents = r.string("represents")
        if let c = t.represents, let p = CountryCode.issue(c) { d.add(r.child("represents"), p) }
        t.accreditedTo = r.string("accredited_to")
        if let c = t.accreditedTo, let p = CountryCode.issue(c) { d.add(r.child("accredited_to"), p) }
        switch (t.represents, t.accreditedTo) {
        case (nil, .some): d.add(r.child("represents"), Message("issue_diplomatic_mission_gives_both_represents", "a diplomatic mission gives both represents and accredited_to"))
        case (.some, nil): d.add(r.child("accredited_to"), Message("issue_diplomatic_mission_gives_both_represents", "a diplomatic mission gives both represents and accredited_to"))
        case let (.some(a), .some(b)) where a == b: d.add(r.child("accredited_to"), Message("issue_mission_accredited_another_country_than", "a mission is accredited to another country than the one it represents"))
        default: break
        }
        guard id != nil, title != nil else { return nil }
        return t
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("id", id)
        o.set("title", title)
        o.set("name", name)
        o.set("organisation", organisation)
        o.set("address", strings: address)
        o.set("country", country)
        o.set("email", email)
        o.set("fax", fax)
        o.set("phone", phone)
        if !social.isEmpty { o.set("social", JSONValue.object(social.mapValues { .string($0) })) }
        o.set("web_form", webForm)
        o.set("salutation", JSONValue.object(salutation.mapValues { .string($0) }))
        o.set("languages", strings: languages)
        o.set("valid_from", validFrom?.description)
        o.set("valid_to", validTo?.description)
        o.set("channel_notes", channelNotes)
        // Absent when not given, so that a target without them keeps its JSON and content hash.
        o.set("successor_of", successorOf)
        o.set("represents", represents)
        o.set("accredited_to", accreditedTo)
        return o.value
    }
}
