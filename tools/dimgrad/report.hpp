// dimgrad CLI — report.html: one self-contained page (inline SVG and CSS, images
// as data: URIs, no scripts, nothing fetched) with the loss and accuracy curves,
// the learning-rate schedule, per-layer gradient norms and update/weight ratios,
// the confusion matrix as a heat map and a grid of misclassified test images.
#pragma once

#include <string>
#include <vector>

#include "common.hpp"
#include "dataset.hpp"
#include "evaluate.hpp"

namespace dgcli {

// config: config.json's content; records: metrics.jsonl's; test: the final
// evaluation on data.test_x (its misclassified indices refer to it).
std::string render_report(const json& config, const std::vector<json>& records, const EvalResult& test,
                          const Dataset& data);
void write_report(const std::string& path, const json& config, const std::vector<json>& records,
                  const EvalResult& test, const Dataset& data);

}  // namespace dgcli
