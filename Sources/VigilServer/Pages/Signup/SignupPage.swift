import Foundation
import VigilCore

/// `/signup`: the sign-up form, empty or again with what was typed and what was wrong with it.
struct SignupPage: TemplateModel {
    struct Country: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    var errors: [String] = []
    var email = ""
    var displayName = ""
    var countries: [Country]
    var languages: [LanguageOption]
    /// Where the supporter was going (a checked local path, or empty): kept through the
    /// confirmation mail to the log-in that follows it.
    var next = ""
    var loginHref = "/login"

    static let example = SignupPage(
        errors: ["Choose a password of at least 12 characters."], email: "ana@example.org", displayName: "Ana",
        countries: [Country(value: "", label: "I'd rather not say", selected: false), Country(value: "ES", label: "Spain", selected: true)],
        languages: [.example], next: "/follow?case=demo-li-wei", loginHref: "/login?next=%2Ffollow%3Fcase%3Ddemo-li-wei")

    /// The form: the countries by name (after "none"), the languages of the catalogue.
    static func form(strings: Strings, catalogue: Catalogue, country: String? = nil, language: String,
                     errors: [String] = [], email: String = "", displayName: String = "", next: String? = nil) -> SignupPage {
        let countries = [Country(value: "", label: strings["signup_country_none"], selected: country == nil)]
            + CountryCode.all.map { ($0, Format.countryName($0)) }.sorted { $0.1 < $1.1 }
                .map { Country(value: $0.0, label: $0.1, selected: $0.0 == country) }
        return SignupPage(errors: errors, email: email, displayName: displayName, countries: countries,
                          languages: LanguageOption.all(catalogue, selected: language), next: next ?? "",
                          loginHref: Endpoint(.loginForm, query: ["next": next ?? ""]).path)
    }
}
