import Foundation

/// `/privacy`: what is kept and for how long.
struct PrivacyPage: TemplateModel {
    /// How many months action reports keep the supporter's name before they become anonymous.
    var retention: Int
    /// The version of this notice (`PrivacyNotice.version`), which consent records name.
    var version: String

    static let example = PrivacyPage(retention: 24, version: "2026-1")
}
