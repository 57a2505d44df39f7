"""The fixed answers the request form offers, as (stored value, label) pairs."""

SUBMITTER = [
    ("patient", "I am the patient"),
    ("someone_else", "I am filling this in for the patient"),
]
SEX = [("female", "Female"), ("male", "Male"), ("prefer_not_to_say", "Prefer not to say")]
CONTACT_METHOD = [("phone", "Phone"), ("email", "Email"), ("either", "Either")]
BEST_TIME = [
    ("morning", "Morning (8 a.m. to noon)"),
    ("afternoon", "Afternoon (noon to 5 p.m.)"),
    ("any", "Any time"),
]
LANGUAGE = [("english", "English"), ("spanish", "Spanish"), ("other", "Another language")]
YES_NO = [("yes", "Yes"), ("no", "No")]
YES_NO_NOT_SURE = [("yes", "Yes"), ("no", "No"), ("not_sure", "Not sure")]
SITES = [
    ("lungs", "Lungs"),
    ("liver", "Liver"),
    ("bones", "Bones"),
    ("brain", "Brain"),
    ("other", "Somewhere else"),
    ("not_sure", "Not sure"),
]
INSURANCE = [
    ("commercial", "Commercial or employer insurance"),
    ("medicare", "Medicare"),
    ("medicaid", "Medicaid"),
    ("other", "Other insurance"),
    ("none", "No insurance / self-pay"),
]
US_STATES = [
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("AS", "American Samoa"),
    ("GU", "Guam"),
    ("MP", "Northern Mariana Islands"),
    ("PR", "Puerto Rico"),
    ("VI", "U.S. Virgin Islands"),
]


def label_for(choices: list[tuple[str, str]], value: str | None) -> str:
    return dict(choices).get(value or "", "")
