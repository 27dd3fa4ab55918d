// Feature cache: features of a dataset computed once per (dataset, preset, parameters) into one binary
// file that later runs map into memory. The header records the parameters and a checksum of the inputs
// (metadata files, and each audio file's name, size and modification time); a change of either, a
// truncated file or corrupted data is detected, reported, and the cache rebuilt, never used.
//
// File layout: "SEDFEAT1" | u64 header length | JSON header | zero padding to 64 bytes | float32 data.
// The header holds the data's checksum, the clip names and their multi-hot targets.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "data/dataset.hpp"

namespace sedenergy::data {

struct CacheKey {
  std::string params;              // features::describe(params) + extraction options
  std::uint64_t inputs_checksum = 0;
};

CacheKey cache_key(const DatasetPaths& paths, const std::vector<Clip>& clips, const features::FeatureParams& params,
                   const ExtractOptions& opt);

// The cache file inside `dir` for a set of clips of a dataset and a parameter set (a subset, such as a
// held-out split, has its own file; changed contents rebuild the same file).
std::string cache_file(const std::string& dir, const DatasetPaths& paths, const std::vector<Clip>& clips,
                       const CacheKey& key);

// Maps a cache file; returns nothing (and why) when it is absent, stale, truncated or corrupt.
std::optional<FeatureSet> load_feature_cache(const std::string& file, const CacheKey& key, std::string& why);

// Writes atomically (temporary file, then rename).
void save_feature_cache(const std::string& file, const CacheKey& key, const FeatureSet& fs);

// Loads from the cache in `dir` when valid, else extracts and writes it. `note` says which happened.
FeatureSet cached_features(const std::string& dir, const DatasetPaths& paths, const std::vector<Clip>& clips,
                           const features::FeatureParams& params, const ExtractOptions& opt, std::string& note);

// 64-bit checksum of a byte range (exposed for tests).
std::uint64_t checksum64(const void* data, std::size_t bytes, std::uint64_t seed = 0);

}  // namespace sedenergy::data
