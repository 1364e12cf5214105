// Package words turns a hash into what people read aloud: numbered groups of
// hex digits and the PGP word list (two alternating lists of 256 words, so a
// swapped or repeated byte is heard).
package words
