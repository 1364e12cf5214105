// Package words turns a hash into what people read aloud: numbered groups of
// hex digits and the PGP word list (two alternating lists of 256 words, so a
// swapped or repeated byte is heard).
package words

import "strconv"

// GroupSize is the number of hex digits in a group.
const GroupSize = 4

// Groups splits a hex string into numbered groups of four digits, "1:3fa2",
// "2:09c1", …, for a witness to copy and a reader to check group by group:
// "group 7" is found at once on both sides. A last group of fewer than four
// digits is kept as it is. The digits are not checked or changed.
func Groups(hexstr string) []string {
	groups := make([]string, 0, (len(hexstr)+GroupSize-1)/GroupSize)
	for i := 0; i < len(hexstr); i += GroupSize {
		n := len(groups) + 1
		groups = append(groups, strconv.Itoa(n)+":"+hexstr[i:min(i+GroupSize, len(hexstr))])
	}
	return groups
}

// PGP returns one word per byte of b from the PGP word list (Juola and
// Zimmermann, "Whole-word phonetic distances and the PGPfone alphabet",
// ICSLP 1996): bytes at even positions (the first, the third, …) from the
// two-syllable list, bytes at odd positions from the three-syllable list.
// Reading a byte from the wrong list, dropping one or saying one twice
// breaks the alternation, which a listener hears. The words keep the
// list's capitals (Algol, Zulu).
func PGP(b []byte) []string {
	words := make([]string, len(b))
	for i, c := range b {
		if i%2 == 0 {
			words[i] = twoSyllable[c]
		} else {
			words[i] = threeSyllable[c]
		}
	}
	return words
}

// twoSyllable is the list for bytes at even positions, indexed by the byte.
var twoSyllable = [256]string{
	/* 00 */ "aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict", "ahead",
	/* 08 */ "aimless", "Algol", "allow", "alone", "ammo", "ancient", "apple", "artist",
	/* 10 */ "assume", "Athens", "atlas", "Aztec", "baboon", "backfield", "backward", "banjo",
	/* 18 */ "beaming", "bedlamp", "beehive", "beeswax", "befriend", "Belfast", "berserk", "billiard",
	/* 20 */ "bison", "blackjack", "blockade", "blowtorch", "bluebird", "bombast", "bookshelf", "brackish",
	/* 28 */ "breadline", "breakup", "brickyard", "briefcase", "Burbank", "button", "buzzard", "cement",
	/* 30 */ "chairlift", "chatter", "checkup", "chisel", "choking", "chopper", "Christmas", "clamshell",
	/* 38 */ "classic", "classroom", "cleanup", "clockwork", "cobra", "commence", "concert", "cowbell",
	/* 40 */ "crackdown", "cranky", "crowfoot", "crucial", "crumpled", "crusade", "cubic", "dashboard",
	/* 48 */ "deadbolt", "deckhand", "dogsled", "dragnet", "drainage", "dreadful", "drifter", "dropper",
	/* 50 */ "drumbeat", "drunken", "Dupont", "dwelling", "eating", "edict", "egghead", "eightball",
	/* 58 */ "endorse", "endow", "enlist", "erase", "escape", "exceed", "eyeglass", "eyetooth",
	/* 60 */ "facial", "fallout", "flagpole", "flatfoot", "flytrap", "fracture", "framework", "freedom",
	/* 68 */ "frighten", "gazelle", "Geiger", "glitter", "glucose", "goggles", "goldfish", "gremlin",
	/* 70 */ "guidance", "hamlet", "highchair", "hockey", "indoors", "indulge", "inverse", "involve",
	/* 78 */ "island", "jawbone", "keyboard", "kickoff", "kiwi", "klaxon", "locale", "lockup",
	/* 80 */ "merit", "minnow", "miser", "Mohawk", "mural", "music", "necklace", "Neptune",
	/* 88 */ "newborn", "nightbird", "Oakland", "obtuse", "offload", "optic", "orca", "payday",
	/* 90 */ "peachy", "pheasant", "physique", "playhouse", "Pluto", "preclude", "prefer", "preshrunk",
	/* 98 */ "printer", "prowler", "pupil", "puppy", "python", "quadrant", "quiver", "quota",
	/* a0 */ "ragtime", "ratchet", "rebirth", "reform", "regain", "reindeer", "rematch", "repay",
	/* a8 */ "retouch", "revenge", "reward", "rhythm", "ribcage", "ringbolt", "robust", "rocker",
	/* b0 */ "ruffled", "sailboat", "sawdust", "scallion", "scenic", "scorecard", "Scotland", "seabird",
	/* b8 */ "select", "sentence", "shadow", "shamrock", "showgirl", "skullcap", "skydive", "slingshot",
	/* c0 */ "slowdown", "snapline", "snapshot", "snowcap", "snowslide", "solo", "southward", "soybean",
	/* c8 */ "spaniel", "spearhead", "spellbind", "spheroid", "spigot", "spindle", "spyglass", "stagehand",
	/* d0 */ "stagnate", "stairway", "standard", "stapler", "steamship", "sterling", "stockman", "stopwatch",
	/* d8 */ "stormy", "sugar", "surmount", "suspense", "sweatband", "swelter", "tactics", "talon",
	/* e0 */ "tapeworm", "tempest", "tiger", "tissue", "tonic", "topmost", "tracker", "transit",
	/* e8 */ "trauma", "treadmill", "Trojan", "trouble", "tumor", "tunnel", "tycoon", "uncut",
	/* f0 */ "unearth", "unwind", "uproot", "upset", "upshot", "vapor", "village", "virus",
	/* f8 */ "Vulcan", "waffle", "wallet", "watchword", "wayside", "willow", "woodlark", "Zulu",
}

// threeSyllable is the list for bytes at odd positions, indexed by the byte.
var threeSyllable = [256]string{
	/* 00 */ "adroitness", "adviser", "aftermath", "aggregate", "alkali", "almighty", "amulet", "amusement",
	/* 08 */ "antenna", "applicant", "Apollo", "armistice", "article", "asteroid", "Atlantic", "atmosphere",
	/* 10 */ "autopsy", "Babylon", "backwater", "barbecue", "belowground", "bifocals", "bodyguard", "bookseller",
	/* 18 */ "borderline", "bottomless", "Bradbury", "bravado", "Brazilian", "breakaway", "Burlington", "businessman",
	/* 20 */ "butterfat", "Camelot", "candidate", "cannonball", "Capricorn", "caravan", "caretaker", "celebrate",
	/* 28 */ "cellulose", "certify", "chambermaid", "Cherokee", "Chicago", "clergyman", "coherence", "combustion",
	/* 30 */ "commando", "company", "component", "concurrent", "confidence", "conformist", "congregate", "consensus",
	/* 38 */ "consulting", "corporate", "corrosion", "councilman", "crossover", "crucifix", "cumbersome", "customer",
	/* 40 */ "Dakota", "decadence", "December", "decimal", "designing", "detector", "detergent", "determine",
	/* 48 */ "dictator", "dinosaur", "direction", "disable", "disbelief", "disruptive", "distortion", "document",
	/* 50 */ "embezzle", "enchanting", "enrollment", "enterprise", "equation", "equipment", "escapade", "Eskimo",
	/* 58 */ "everyday", "examine", "existence", "exodus", "fascinate", "filament", "finicky", "forever",
	/* 60 */ "fortitude", "frequency", "gadgetry", "Galveston", "getaway", "glossary", "gossamer", "graduate",
	/* 68 */ "gravity", "guitarist", "hamburger", "Hamilton", "handiwork", "hazardous", "headwaters", "hemisphere",
	/* 70 */ "hesitate", "hideaway", "holiness", "hurricane", "hydraulic", "impartial", "impetus", "inception",
	/* 78 */ "indigo", "inertia", "infancy", "inferno", "informant", "insincere", "insurgent", "integrate",
	/* 80 */ "intention", "inventive", "Istanbul", "Jamaica", "Jupiter", "leprosy", "letterhead", "liberty",
	/* 88 */ "maritime", "matchmaker", "maverick", "Medusa", "megaton", "microscope", "microwave", "midsummer",
	/* 90 */ "millionaire", "miracle", "misnomer", "molasses", "molecule", "Montana", "monument", "mosquito",
	/* 98 */ "narrative", "nebula", "newsletter", "Norwegian", "October", "Ohio", "onlooker", "opulent",
	/* a0 */ "Orlando", "outfielder", "Pacific", "pandemic", "Pandora", "paperweight", "paragon", "paragraph",
	/* a8 */ "paramount", "passenger", "pedigree", "Pegasus", "penetrate", "perceptive", "performance", "pharmacy",
	/* b0 */ "phonetic", "photograph", "pioneer", "pocketful", "politeness", "positive", "potato", "processor",
	/* b8 */ "provincial", "proximate", "puberty", "publisher", "pyramid", "quantity", "racketeer", "rebellion",
	/* c0 */ "recipe", "recover", "repellent", "replica", "reproduce", "resistor", "responsive", "retraction",
	/* c8 */ "retrieval", "retrospect", "revenue", "revival", "revolver", "sandalwood", "sardonic", "Saturday",
	/* d0 */ "savagery", "scavenger", "sensation", "sociable", "souvenir", "specialist", "speculate", "stethoscope",
	/* d8 */ "stupendous", "supportive", "surrender", "suspicious", "sympathy", "tambourine", "telephone", "therapist",
	/* e0 */ "tobacco", "tolerance", "tomorrow", "torpedo", "tradition", "travesty", "trombonist", "truncated",
	/* e8 */ "typewriter", "ultimate", "undaunted", "underfoot", "unicorn", "unify", "universe", "unravel",
	/* f0 */ "upcoming", "vacancy", "vagabond", "vertigo", "Virginia", "visitor", "vocalist", "voyager",
	/* f8 */ "warranty", "Waterloo", "whimsical", "Wichita", "Wilmington", "Wyoming", "yesteryear", "Yucatan",
}
