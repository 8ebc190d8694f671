#!/usr/bin/env bash
# The bash completion (completions/httpcloop) cannot drift from the program: loaded as
# bash-completion loads an installed one, it offers for `httpcloop <TAB>` exactly the
# commands of httpcloop --help, and for `httpcloop COMMAND --<TAB>` (and -<TAB>) exactly the
# options of httpcloop COMMAND --help, so an option added to one and not the other fails
# here. And it completes what it should: a command from its prefix, directories for
# --cache and OUTDIR, files for key options and SRC, codec names, devices, nothing for
# a number or a URL. The program: $HTTPCLOOP_BIN, by default this tree's build.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${HTTPCLOOP_BIN:-$root/build/userspace/httpcloop}
script=$root/completions/httpcloop
bash_completion=/usr/share/bash-completion/bash_completion
[ -x "$bin" ] || fail "no program at $bin (make userspace, or set HTTPCLOOP_BIN)"
[ -f "$bash_completion" ] || fail "no $bash_completion (apt-get install bash-completion)"
work=$(mktemp -d /tmp/httpcloop-completion-test.XXXXXX)
cleanup rm -rf "$work"

if command -v shellcheck >/dev/null; then
	shellcheck -s bash "$script" || fail "shellcheck -s bash $script"
else
	log "shellcheck is not installed: $script not checked with it"
fi

# Load the script as bash-completion loads an installed one: the first completion of
# httpcloop sources it from a completions directory, inside a function (__load_completion).
# A user's own ~/.bash_completion and /etc/bash_completion.d are kept out.
mkdir -p "$work/user/completions" "$work/files"
ln -s "$script" "$work/user/completions/httpcloop"
export BASH_COMPLETION_USER_DIR=$work/user BASH_COMPLETION_USER_FILE=$work/none BASH_COMPLETION_COMPAT_DIR=$work/none
# bash-completion is written for an interactive shell: its tests fail on purpose and it
# reads unset variables, which lib.sh's set -eEu and ERR trap would stop at. Relax them
# while it runs (here and in complete_words), and restore them after.
strict_options=$(set +o)
strict_err_trap=$(trap -p ERR)
set +eEu +o pipefail
trap - ERR
# shellcheck source=/dev/null
source "$bash_completion"
__load_completion httpcloop
registered=$(complete -p httpcloop 2>/dev/null)
eval "$strict_options"
eval "$strict_err_trap"
[[ $registered =~ -F\ ([^ ]+)\ httpcloop$ ]] ||
	fail "$script did not register a completion function for httpcloop (complete -p: '$registered'); does bash -n $script pass?"
function=${BASH_REMATCH[1]}

# complete_words WORD...: what a <TAB> at the end of the command line "WORD..." offers,
# one a line, sorted; the last WORD is the one completed ('': after a blank). The line
# is split into COMP_WORDS as bash splits it: --option=VALUE is the three words --option,
# = and VALUE (COMP_WORDBREAKS). No WORD holds a blank.
complete_words() {
	local line="$*" word
	local -a words=()
	for word in "$@"; do
		if [[ $word == ?*=* ]]; then
			words+=("${word%%=*}" "=")
			word=${word#*=}
			# "--option=": the word completed is "=".
			[ -n "$word" ] || continue
		fi
		words+=("$word")
	done
	(
		set +eEu +o pipefail
		trap - ERR
		# Outside a real completion, compopt refuses to run (and says so on stderr); what
		# it would tell readline (quote as file names) is not what this test looks at.
		# shellcheck disable=SC2317 # called by the completion functions
		compopt() { :; }
		COMP_WORDBREAKS=$' \t\n"\'@><=;|&(:'
		COMP_WORDS=("${words[@]}")
		COMP_CWORD=$((${#words[@]} - 1))
		COMP_LINE=$line
		COMP_POINT=${#line}
		COMPREPLY=()
		"$function" httpcloop "${words[COMP_CWORD]}" "${words[COMP_CWORD - 1]}"
		[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
	) | sort
}

problems=()
# expect SOURCE EXPECTED WORD...: unless completing "WORD..." (complete_words) offers the
# words of EXPECTED (in any order; none holds a blank), record a problem naming the words
# only one of them has. SOURCE says where EXPECTED comes from.
expect() {
	local source=$1 expected=$2 offered lacks extra
	shift 2
	offered=$(complete_words "$@")
	lacks=$(comm -23 <(words_of "$expected") <(words_of "$offered") | xargs)
	extra=$(comm -13 <(words_of "$expected") <(words_of "$offered") | xargs)
	[ -z "$lacks" ] || problems+=("'$*<TAB>' does not offer $lacks, which $source lists")
	[ -z "$extra" ] || problems+=("'$*<TAB>' offers $extra, which $source does not list")
}
words_of() { tr -s '[:space:]' '\n' <<<"$1" | sed '/^$/d' | sort -u; }

# The commands and options of --help, parsed as t-docs.sh parses them: the commands are
# the first words of the "Commands:" paragraph; the options, those that start an option
# line ("  -b, --block-size SIZE  ...", "  --json  ..."), and a further option the same
# line lists before its description ("  --pubkey FILE, --sha256 HEX   verify ...").
options_of() {
	grep -oE -- '^ +-[-a-zA-Z0-9]+( [A-Z][A-Z|]*)?(, -[-a-zA-Z0-9]+( [A-Z][A-Z|]*)?)*' |
		grep -oE -- '(^| )--?[a-zA-Z0-9][-a-z0-9]*' | tr -d ' ' | sort -u
}
help=$("$bin" --help)
commands=$(sed -n '/^Commands:/,/^$/p' <<<"$help" | awk 'NR > 1 && NF { print $1 }')
[ "$(wc -w <<<"$commands")" -ge 10 ] || fail "too few commands in httpcloop --help: $commands"

log "commands: httpcloop <TAB>, httpcloop help <TAB>"
expect "the Commands: of httpcloop --help" "$commands" httpcloop ''
expect "the Commands: of httpcloop --help" "$commands" httpcloop help ''
expect "the Other options: of httpcloop --help" "$(sed -n 's/^Other options: //p' <<<"$help" | grep -oE -- '--[a-z-]+')" httpcloop -
expect "the test" attach httpcloop at
expect "the test" mount-fuse httpcloop mount

log "options: httpcloop COMMAND --<TAB>, httpcloop COMMAND -<TAB>"
for command in $commands; do
	options=$("$bin" "$command" --help | options_of)
	grep -qx -- --help <<<"$options" || fail "found no --help in httpcloop $command --help: has its format changed? (found: $(xargs <<<"$options"))"
	expect "httpcloop $command --help" "$(grep -- '^--' <<<"$options")" httpcloop "$command" --
	# -<TAB>: the short options and the long ones alike (a long one missing is named twice).
	expect "httpcloop $command --help" "$options" httpcloop "$command" -
done

log "option arguments and operands"
f=$work/files
mkdir "$f/cache.d" "$f/out.d"
touch "$f/key.pem" "$f/src.img"
dirs="$f/cache.d $f/out.d"
expect "the test (directories)" "$dirs" httpcloop attach --cache "$f/"
expect "the test" "$f/cache.d" httpcloop attach "--cache=$f/c"
expect "the test (directories)" "$dirs" httpcloop verify URL --cache "$f/"
expect "the test" "$f/key.pem" httpcloop mkimage --sign "$f/k"
expect "the test" "$f/key.pem" httpcloop mkimage -s "$f/k"
expect "the test (files and directories)" "$dirs $f/key.pem $f/src.img" httpcloop attach --pubkey "$f/"
expect "the test (SRC)" "$f/src.img" httpcloop mkimage "$f/s"
# OUTDIR, the second operand, also after options and their arguments.
expect "the test (OUTDIR: directories)" "$dirs" httpcloop mkimage "$f/src.img" "$f/"
expect "the test (OUTDIR: directories)" "$dirs" httpcloop mkimage -c zstd --level 3 "$f/src.img" -p "$f/"
expect "the test" --pack httpcloop mkimage "$f/src.img" --pa
expect "the test (MOUNTPOINT: directories)" "$dirs" httpcloop mount-fuse http://host/img "$f/"
expect "the test (FILE)" "$f/src.img" httpcloop sign --kind image-manifest "$f/key.pem" "$f/s"
expect "the test" "zlib zstd" httpcloop mkimage --codec ''
expect "the test" "zlib zstd" httpcloop import-cloop -c ''
expect "the test" "boot-manifest boot-script image-manifest" httpcloop sign --kind ''
# The values offered are ones the help names.
for command in mkimage import-cloop sign; do
	option=--codec
	[ "$command" != sign ] || option=--kind
	for value in $(complete_words httpcloop "$command" "$option" ''); do
		"$bin" "$command" --help | grep -qw -- "$value" ||
			problems+=("'httpcloop $command $option <TAB>' offers $value, which httpcloop $command --help does not name")
	done
done
# Arguments that are numbers, URLs, hashes or text, and attach's URL: nothing.
for words in "mkimage --level" "attach --timeout" "attach --mirror" "info --sha256" "mkboot --cmdline" "attach"; do
	# shellcheck disable=SC2086 # words: a command and an option, split
	expect "the test (nothing)" "" httpcloop $words ''
done
# Devices: the ones attached now, /dev/httpcloopN (on most hosts: none), and no files.
devices=$(find /dev -maxdepth 1 -regex '/dev/httpcloop[0-9]+')
expect "/dev (the attached devices)" "$devices" httpcloop detach ''
expect "/dev (the attached devices)" "$devices" httpcloop restart --no-mlock ''
expect "/dev (the attached devices)" "$devices" httpcloop attach --recover ''

if [ ${#problems[@]} -gt 0 ]; then
	printf '  %s\n' "${problems[@]}" >&2
	fail "${#problems[@]} completion problems (completions/httpcloop: its table _httpcloop_options, or its argument cases)"
fi
log "completion OK: $(wc -w <<<"$commands") commands and their options"
