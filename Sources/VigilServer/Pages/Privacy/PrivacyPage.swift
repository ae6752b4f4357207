import Foundation

/// `/privacy`: what is kept and for how long.
struct PrivacyPage: TemplateModel {
    /// How many months action reports keep the supporter's name before they become anonymous.
    var retention: Int

    static let example = PrivacyPage(retention: 24)
}
