#include "data/feature_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"

namespace fs = std::filesystem;

namespace sedenergy::data {
namespace {

constexpr char kMagic[8] = {'S', 'E', 'D', 'F', 'E', 'A', 'T', '1'};

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

std::uint64_t hash_text(const std::string& s, std::uint64_t seed) { return checksum64(s.data(), s.size(), seed); }

std::uint64_t hash_file(const std::string& path, std::uint64_t seed) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  return hash_text(bytes, seed);
}

// A read-only memory map that unmaps itself.
struct Mapping {
  void* addr = MAP_FAILED;
  std::size_t size = 0;
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

}  // namespace

std::uint64_t checksum64(const void* data, std::size_t bytes, std::uint64_t seed) {
  // Word-wise multiply-xor hash: fast enough to verify gigabytes, sensitive to any changed byte.
  const unsigned char* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = mix(seed ^ 0x9E3779B97F4A7C15ull ^ bytes);
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ mix(w)) * 0x9E3779B97F4A7C15ull;
    h = (h << 29) | (h >> 35);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, p + i, bytes - i);
  return mix(h ^ mix(tail ^ (bytes - i)));
}

CacheKey cache_key(const DatasetPaths& paths, const std::vector<Clip>& clips, const features::FeatureParams& params,
                   const ExtractOptions& opt) {
  CacheKey key;
  key.params = features::describe(params) + " " + describe(opt);
  std::uint64_t h = 1;
  if (!paths.weak_tsv.empty()) h = hash_file(paths.weak_tsv, h);
  if (!paths.strong_tsv.empty()) h = hash_file(paths.strong_tsv, h);
  for (const auto& c : clips) {
    std::error_code ec;
    fs::path p = fs::path(paths.audio_dir) / c.filename;
    auto size = fs::file_size(p, ec);
    auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    h = hash_text(c.filename + "|" + std::to_string(size) + "|" + std::to_string(mtime), h);
  }
  key.inputs_checksum = h;
  return key;
}

std::string cache_file(const std::string& dir, const DatasetPaths& paths, const std::vector<Clip>& clips,
                       const CacheKey& key) {
  std::uint64_t id = hash_text(fs::weakly_canonical(paths.audio_dir).string() + "\n" + key.params, 7);
  for (const auto& c : clips) id = hash_text(c.filename, id);
  return (fs::path(dir) / ("features-" + hex(id) + ".bin")).string();
}

std::optional<FeatureSet> load_feature_cache(const std::string& file, const CacheKey& key, std::string& why) {
  const double t0 = monotonic_s();
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) {
    why = "no cache yet";
    return std::nullopt;
  }
  struct stat st {};
  fstat(fd, &st);
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<std::size_t>(st.st_size);
  if (map->size >= 16) map->addr = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->addr == MAP_FAILED) {
    why = file + " is truncated (" + std::to_string(map->size) + " bytes)";
    return std::nullopt;
  }
  const char* base = static_cast<const char*>(map->addr);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, base + 8, 8);
  if (std::memcmp(base, kMagic, 8) != 0 || header_len > map->size - 16) {
    why = file + " is not a sedenergy feature cache or is truncated";
    return std::nullopt;
  }
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(base + 16, base + 16 + header_len);
  } catch (const std::exception&) {
    why = file + " has a corrupt header";
    return std::nullopt;
  }
  if (h.value("params", "") != key.params) {
    why = "feature parameters changed";
    return std::nullopt;
  }
  if (h.value("inputs_checksum", "") != hex(key.inputs_checksum)) {
    why = "the dataset changed (metadata or audio files)";
    return std::nullopt;
  }
  FeatureSet out;
  out.n_clips = h.value("n_clips", 0);
  out.n_mels = h.value("n_mels", 0);
  out.frames = h.value("frames", 0);
  const std::size_t offset = h.value("data_offset", std::size_t{0});
  const std::size_t bytes = out.size() * sizeof(float);
  if (offset < 16 + header_len || offset % 64 != 0 || offset + bytes != map->size) {
    why = file + " is truncated or has the wrong size";
    return std::nullopt;
  }
  if (h.value("data_checksum", "") != hex(checksum64(base + offset, bytes))) {
    why = file + " holds corrupted data (checksum mismatch)";
    return std::nullopt;
  }
  out.filenames = h.at("filenames").get<std::vector<std::string>>();
  out.targets = h.at("targets").get<std::vector<float>>();
  if (out.filenames.size() != static_cast<std::size_t>(out.n_clips) ||
      out.targets.size() != static_cast<std::size_t>(out.n_clips) * kNumClasses) {
    why = file + " has an inconsistent header";
    return std::nullopt;
  }
  out.mapped = reinterpret_cast<const float*>(base + offset);
  out.mapping = map;
  out.source = file;
  out.extract_seconds = monotonic_s() - t0;
  return out;
}

void save_feature_cache(const std::string& file, const CacheKey& key, const FeatureSet& fs_in) {
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  if (ec) throw InputError("feature cache: cannot create " + fs::path(file).parent_path().string() + ": " + ec.message());
  const std::size_t bytes = fs_in.size() * sizeof(float);
  nlohmann::json h = {{"params", key.params},
                      {"inputs_checksum", hex(key.inputs_checksum)},
                      {"n_clips", fs_in.n_clips},
                      {"n_mels", fs_in.n_mels},
                      {"frames", fs_in.frames},
                      {"data_checksum", hex(checksum64(fs_in.data(), bytes))},
                      {"filenames", fs_in.filenames},
                      {"targets", fs_in.targets},
                      {"data_offset", 0}};
  // The offset depends on the header's own length: settle it in two passes.
  std::string text;
  std::size_t offset = 0;
  for (int pass = 0; pass < 3; ++pass) {
    text = json_text(h);
    offset = (16 + text.size() + 63) / 64 * 64;
    h["data_offset"] = offset;
  }
  text = json_text(h);
  if (16 + text.size() > offset) throw Error("feature cache: header layout did not settle");
  TempFile out(file);  // mkstemp beside the cache file: concurrent writers and planted symlinks never share it
  const std::uint64_t len = text.size();
  out.write(kMagic, 8);
  out.write(&len, 8);
  out.write(text);
  out.write(std::string(offset - 16 - text.size(), '\0'));
  out.write(fs_in.data(), bytes);
  out.commit();
}

FeatureSet cached_features(const std::string& dir, const DatasetPaths& paths, const std::vector<Clip>& clips,
                           const features::FeatureParams& params, const ExtractOptions& opt, std::string& note) {
  auto key = cache_key(paths, clips, params, opt);
  auto file = cache_file(dir, paths, clips, key);
  std::string why;
  if (auto hit = load_feature_cache(file, key, why)) {
    note = "features: loaded from cache " + file;
    return std::move(*hit);
  }
  auto fs_out = extract_features(paths, clips, params, opt);
  // A cache of a partial dataset (clips skipped for errors) would hide those errors next time.
  if (fs_out.skipped.empty()) save_feature_cache(file, key, fs_out);
  note = "features: computed (" + why + ")" + (fs_out.skipped.empty() ? ", cached in " + file : "");
  return fs_out;
}

}  // namespace sedenergy::data
