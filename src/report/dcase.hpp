// DCASE task 4 energy reporting (docs/FACTS.md §8): a submission's training and devtest-inference emissions
// files against the baseline's reference runs on the same hardware give kWh per phase and domain, the
// normalised energy (baseline kWh / submission kWh) and, with PSDS values, the energy-weighted score
// EW-PSDS = PSDS x kWh_baseline / kWh_submission (Ronchini & Serizel, arXiv 2310.03455).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "analysis/study_analysis.hpp"

namespace sedenergy::report {

struct DcaseInputs {
  std::string train, test, baseline_train, baseline_test;  // emissions CSV files
  std::vector<double> psds;                                 // PSDS scores of the submission (e.g. PSDS1, PSDS2)
  std::string complexity;  // `python -m sedenergy complexity --json` of the system on 10 s of audio ("": none)
};

struct DcaseFiles {
  std::string markdown, csv, json, html, yaml;
  std::string summary;  // the Markdown, to print
  std::vector<std::string> warnings;  // rows read with a doubt (an energy_consumed that disagrees with its domains)
};

// Reads and checks the four files (same GPU model and count in all, GPU energy present, PSDS in [0, 1]);
// refuses what cannot be compared with InputError naming the file or option. Writes dcase.md, dcase.csv,
// dcase.json and dcase.html into out_dir, and dcase-submission.yaml: the figures a submission reports
// (docs/FACTS.md §8), with the model's parameters and MACs when `complexity` is given.
DcaseFiles write_dcase_report(const DcaseInputs& in, const std::string& out_dir);

}  // namespace sedenergy::report
