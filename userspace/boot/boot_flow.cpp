#include "boot/boot_flow.hpp"

#include "boot/boot_cache.hpp"
#include "boot_format/boot_manifest.hpp"
#include "boot/console.hpp"
#include "boot/http_client.hpp"
#include "boot/kexec.hpp"
#include "boot_format/mirror_rank.hpp"
#include "boot/network.hpp"
#include "boot/run_program.hpp"
#include "trust/trust.hpp"
#include "util/fd.hpp"
#include "util/hex.hpp"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace httpcloop::boot {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kManifestName = "boot.manifest";
constexpr const char* kSignatureName = "boot.manifest.sig";
constexpr size_t kMaxSignatureBytes = 4096;
constexpr size_t kMaxScriptBytes = 1 << 20;
constexpr size_t kMaxMirrors = 16;

// One base URL (the boot URL or a mirror) and what probing it found.
struct Source {
	std::string base;
	std::string manifest;
	std::string signature;
	std::string error;
	double seconds = 0;
	bool reachable = false;
};

std::span<const uint8_t> as_bytes(const std::string& text)
{
	return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

HttpOptions http_options(const BootParameters& parameters, uint64_t max_bytes)
{
	HttpOptions options;
	options.timeout_s = parameters.timeout_s;
	options.max_bytes = max_bytes;
	if (parameters.cafile)
		options.cafile = *parameters.cafile;
	return options;
}

bool is_not_found(const HttpError& error)
{
	return std::string_view(error.what()).find("HTTP status 404") != std::string_view::npos;
}

// The signature at `url`, or "" when the server has none (404).
std::string fetch_optional_signature(const std::string& url, const BootParameters& parameters)
{
	try {
		return http_fetch_text(url, http_options(parameters, kMaxSignatureBytes));
	} catch (const HttpError& error) {
		if (is_not_found(error))
			return "";
		throw;
	}
}

TrustOptions trust_for(const BootRun& run, const std::optional<Sha256>& location_pin)
{
	TrustOptions trust;
	std::string key = run.pubkey_file_option;
	if (key.empty() && run.parameters.pubkey)
		key = *run.parameters.pubkey;
	if (!key.empty()) {
		if (key.starts_with("/")) {
			trust.load_pubkey(key);
		} else {
			// The base64 body of a PEM public key (its one line for Ed25519), as it fits
			// on a kernel command line.
			std::string pem = "-----BEGIN PUBLIC KEY-----\n" + key + "\n-----END PUBLIC KEY-----\n";
			trust.pubkey = std::make_shared<const Ed25519PublicKey>(
				Ed25519PublicKey::from_pem(pem, "httpcloop.pubkey= (the base64 of a PEM public key)"));
			trust.pubkey_name = "httpcloop.pubkey=";
		}
	}
	trust.pinned_sha256 = merge_pins(location_pin, run.parameters.sha256);
	return trust;
}

// Probes every source at once (the boot manifest, and its signature when a key is set) and
// orders the reachable ones fastest first.
std::vector<Source> probe_sources(const std::vector<std::string>& bases, const BootParameters& parameters,
				  bool want_signature)
{
	std::vector<Source> sources(bases.size());
	{
		std::vector<std::jthread> probes;
		for (size_t i = 0; i < bases.size(); ++i) {
			sources[i].base = bases[i];
			probes.emplace_back([&source = sources[i], &parameters, want_signature] {
				const auto start = Clock::now();
				try {
					source.manifest = http_fetch_text(join_base_url(source.base, kManifestName),
									  http_options(parameters, BootManifest::kMaxBytes));
					source.seconds = std::chrono::duration<double>(Clock::now() - start).count();
					if (want_signature)
						source.signature =
							fetch_optional_signature(join_base_url(source.base, kSignatureName), parameters);
					source.reachable = true;
				} catch (const std::exception& error) {
					source.error = error.what();
				}
			});
		}
	} // the jthreads join here
	std::vector<std::optional<double>> seconds;
	for (const Source& source : sources)
		seconds.push_back(source.reachable ? std::optional(source.seconds) : std::nullopt);
	std::vector<Source> ranked;
	for (size_t index : rank_sources(seconds))
		ranked.push_back(std::move(sources[index]));
	for (Source& source : sources)
		if (!source.reachable)
			ranked.push_back(std::move(source)); // last, so that their errors are reported
	return ranked;
}

// Downloads `file` from `base` into the cache's temporary path, checking size and hash as
// it goes. Throws HttpError (transport; worth a retry) or TrustError (wrong bytes: this
// source will not do better).
void download(const BootCache& cache, const std::string& base, const BootFile& file, const std::string& name,
	      const BootParameters& parameters)
{
	const std::string url = join_base_url(base, file.path);
	const std::filesystem::path temporary = cache.temporary_path(file);
	UniqueFd fd = open_or_throw(temporary.string(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	Sha256Hasher hasher;
	uint64_t received = 0;
	Progress progress(name, file.size);
	say("downloading " + name + " from " + url);
	try {
		http_fetch(url, http_options(parameters, file.size), [&](std::span<const uint8_t> piece, std::optional<uint64_t>) {
			pwrite_all(fd.get(), piece, received, temporary.string());
			hasher.update(piece);
			received += piece.size();
			progress.update(received);
		});
	} catch (const HttpError& error) {
		::unlink(temporary.c_str());
		if (std::string_view(error.what()).find("larger than the limit") != std::string_view::npos)
			throw TrustError(name + " from " + url + " is larger than the " + std::to_string(file.size) +
					 " bytes the boot manifest says (this mirror serves another file)");
		throw;
	}
	progress.finish(received);
	const Sha256 digest = hasher.final();
	if (received != file.size) {
		::unlink(temporary.c_str());
		throw TrustError(name + " from " + url + " is truncated: " + std::to_string(received) + " bytes, the boot manifest says " +
				 std::to_string(file.size) + " (an incomplete upload, or a proxy cut it)");
	}
	if (digest != file.sha256) {
		::unlink(temporary.c_str());
		throw TrustError(name + " from " + url + ": SHA-256 mismatch: got " + to_hex(digest) + ", the boot manifest says " +
				 to_hex(file.sha256) + " (this mirror serves different bytes)");
	}
	if (::fsync(fd.get()) != 0)
		throw_errno("cannot sync " + temporary.string());
	fd.reset();
	const std::filesystem::path final_path = cache.final_path(file);
	if (::rename(temporary.c_str(), final_path.c_str()) != 0)
		throw_errno("cannot rename " + temporary.string());
}

// The verified local copy of `file`: from the cache, or from the first source that serves
// the right bytes, with `retries` tries per source for transport errors.
std::filesystem::path obtain(const BootCache& cache, std::vector<std::string>& bases, const BootFile& file,
			     const std::string& name, const BootParameters& parameters)
{
	if (std::optional<std::filesystem::path> cached = cache.find(file)) {
		say(name + ": verified copy in the cache (" + cached->string() + "), nothing to download");
		return *cached;
	}
	std::vector<std::string> failures;
	for (const std::string& base : std::vector<std::string>(bases)) {
		for (unsigned attempt = 1; attempt <= parameters.retries; ++attempt) {
			try {
				download(cache, base, file, name, parameters);
				return cache.final_path(file);
			} catch (const TrustError& error) {
				warn(std::string(error.what()) + "; trying the next mirror");
				failures.push_back(error.what());
				// A mirror that served other bytes is tried last for the files still to come.
				std::erase(bases, base);
				bases.push_back(base);
				break;
			} catch (const HttpError& error) {
				failures.push_back(error.what());
				if (is_not_found(error) || attempt == parameters.retries) {
					warn(std::string(error.what()) + "; trying the next mirror");
					break;
				}
				warn(std::string(error.what()) + "; retrying in " + std::to_string(attempt) + " s");
				std::this_thread::sleep_for(std::chrono::seconds(attempt));
			}
		}
	}
	std::string message = "no mirror served a verified " + name + ":";
	for (const std::string& failure : failures)
		message += "\n  " + failure;
	throw Error(message);
}

void run_iscript(const BootRun& run, const BootCache& cache)
{
	const PinnedLocation location = parse_pinned_location(*run.parameters.iscript);
	TrustOptions trust = trust_for(run, location.pinned_sha256);
	trust.pinned_sha256 = location.pinned_sha256; // httpcloop.sha256= pins the boot manifest, not the script
	say("fetching iscript " + location.location);
	const std::string script =
		http_fetch_text(location.location, http_options(run.parameters, kMaxScriptBytes));
	std::string signature;
	if (trust.pubkey)
		signature = fetch_optional_signature(location.location + ".sig", run.parameters);
	if (!trust.any())
		warn("iscript " + location.location +
		     " is not verified (no httpcloop.pubkey= and no #sha256= on its URL): running it anyway, as InetBoot did");
	verify_signed_bytes(SignedKind::boot_script, as_bytes(script), as_bytes(signature), trust,
			    "iscript " + location.location);
	const std::filesystem::path path = cache.directory() / "iscript.sh";
	{
		UniqueFd fd = open_or_throw(path.string(), O_WRONLY | O_CREAT | O_TRUNC, 0700);
		pwrite_all(fd.get(), as_bytes(script), 0, path.string());
	}
	std::string shell = find_program("sh");
	if (shell.empty())
		throw Error("no sh to run the iscript with (BusyBox provides one)");
	say("running iscript with " + shell);
	int status = run_program({shell, path.string()},
				 {"HTTPCLOOP_BOOT_URL=" + run.parameters.boot_url.value_or(""),
				  "HTTPCLOOP_ISCRIPT_URL=" + location.location});
	if (status != 0)
		throw Error("iscript " + location.location + " failed with status " + std::to_string(status));
	say("iscript done");
}

} // namespace

int run_boot(const BootRun& run)
{
	const BootParameters& parameters = run.parameters;
	for (const std::string& warning : parameters.warnings)
		warn(warning);
	if (!parameters.boot_url && !parameters.iscript)
		throw Error("nothing to boot: the kernel command line has no httpcloop.boot=URL (nor InetBoot's "
			    "httpfuse=URL or iscript=URL)");

	std::vector<std::string> urls;
	std::optional<PinnedLocation> boot_location;
	if (parameters.boot_url) {
		boot_location = parse_pinned_location(*parameters.boot_url);
		urls.push_back(boot_location->location);
	}
	for (const std::string& mirror : parameters.mirrors)
		if (std::find(urls.begin(), urls.end(), mirror) == urls.end() && urls.size() < kMaxMirrors)
			urls.push_back(mirror);
	if (parameters.iscript)
		urls.push_back(parse_pinned_location(*parameters.iscript).location);
	// The trust configuration is checked before any download: a broken key is an error now.
	const TrustOptions trust = trust_for(run, boot_location ? boot_location->pinned_sha256 : std::nullopt);
	if (!trust.any() && parameters.boot_url)
		warn("no httpcloop.pubkey= or httpcloop.sha256=: the boot manifest cannot be authenticated "
		     "(its files are still checked against it)");

	ensure_network(parameters.network, urls, parameters.timeout_s);
	BootCache cache = BootCache::open(parameters.cache);

	if (parameters.iscript)
		run_iscript(run, cache);
	if (!parameters.boot_url)
		return 0;
	if (parameters.from_httpfuse)
		say("httpfuse=" + boot_location->location + ": booting what is published there");

	// Fastest reachable source first; the first whose manifest verifies is used.
	std::vector<std::string> bases(urls.begin(), urls.end() - (parameters.iscript ? 1 : 0));
	std::vector<Source> sources = probe_sources(bases, parameters, trust.pubkey != nullptr);
	std::optional<BootManifest> manifest;
	std::vector<std::string> ordered;
	std::vector<std::string> failures;
	for (const Source& source : sources) {
		if (!source.reachable) {
			warn("mirror " + source.base + " is unreachable: " + source.error);
			failures.push_back(source.error);
			continue;
		}
		ordered.push_back(source.base);
		if (manifest)
			continue;
		try {
			const std::string what = "boot manifest " + join_base_url(source.base, kManifestName);
			verify_signed_bytes(SignedKind::boot_manifest, as_bytes(source.manifest), as_bytes(source.signature),
					    trust, what);
			manifest = BootManifest::parse(as_bytes(source.manifest));
			say(what + ": " + (trust.pubkey ? "signature good" : trust.pinned_sha256 ? "SHA-256 pin matches" : "parsed") +
			    " (" + std::to_string(static_cast<int>(source.seconds * 1000)) + " ms)");
		} catch (const Error& error) {
			warn(std::string(error.what()) + "; trying the next mirror");
			failures.push_back(error.what());
			ordered.pop_back(); // serves something else: not a source for the files either
		}
	}
	if (!manifest) {
		std::string message = "no verified boot manifest from any mirror:";
		for (const std::string& failure : failures)
			message += "\n  " + failure;
		throw Error(message + "\ncheck httpcloop.boot=, the mirrors, the network and the key or pin");
	}

	const std::filesystem::path kernel = obtain(cache, ordered, manifest->kernel, "kernel", parameters);
	std::optional<std::filesystem::path> initrd;
	std::vector<BootFile> keep = {manifest->kernel};
	if (manifest->initrd) {
		initrd = obtain(cache, ordered, *manifest->initrd, "initrd", parameters);
		keep.push_back(*manifest->initrd);
	}
	cache.prune(keep);
	const std::string cmdline = manifest->effective_cmdline();
	say("verified kernel " + to_hex(manifest->kernel.sha256).substr(0, 16) + "… (" +
	    std::to_string(manifest->kernel.size) + " bytes)" +
	    (manifest->initrd ? " and initrd " + to_hex(manifest->initrd->sha256).substr(0, 16) + "… (" +
				       std::to_string(manifest->initrd->size) + " bytes)"
			      : std::string()));
	say("command line: " + cmdline);
	if (run.dry_run) {
		say("dry run: not loading the kernel (kernel " + kernel.string() +
		    (initrd ? ", initrd " + initrd->string() : std::string()) + ")");
		return 0;
	}
	kexec_load_files(kernel, initrd, cmdline);
	say("kexec: loaded; starting the new kernel");
	kexec_reboot();
}

} // namespace httpcloop::boot
