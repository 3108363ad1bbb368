// What the report files share inside the harness: the context's JSON and
// Markdown, number formats and CSV lines. Not for the tools: they use the
// report kinds' own headers.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "harness/report.h"

namespace gpt2::report {

using nlohmann::json;

// printf of one number: fmt("%.2f", 3.14159) is "3.14".
std::string fmt(const char* format, double v);
// "%.6g": CSV's and JSON-free text's numbers.
std::string num(double v);

// The context as JSON (command, timestamp, machine, gpus, build, model) and
// back; the reader throws json::exception for a field that is missing.
json context_json(const ReportContext& ctx);
ReportContext context_from_json(const json& j);
// The context as the Markdown list that heads every report.
std::string context_markdown(const ReportContext& ctx);

// One CSV line: fields quoted when they hold a comma, a quote or a line break.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace gpt2::report
