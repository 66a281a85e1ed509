// Inline SVG sparklines for the status page (status_render.h): a polyline per run of known
// values, no script, deterministic output.
#include <algorithm>
#include <string>

#include "idmb/status_render.h"

namespace idmb::status {
namespace {

// One coordinate with one decimal: enough at these sizes, and short.
void coordinate(std::string& out, double v) { out += decimal(v, 1); }

void polyline(std::string& out, const std::string& points) {
  out.append("<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.2\" stroke-linecap=\"round\" points=\"")
      .append(points)
      .append("\"/>");
}

}  // namespace

std::string sparkline_svg(std::span<const std::optional<double>> values, std::string_view label,
                          const Sparkline& style) {
  double top = 0;
  for (const auto& v : values) top = v ? std::max(top, *v) : top;
  const double w = style.width, h = style.height, pad = 1.5;
  const double step = values.size() > 1 ? (w - 2 * pad) / static_cast<double>(values.size() - 1) : 0;
  std::string out = "<svg class=\"" + std::string(style.css_class) + "\" width=\"" + std::to_string(style.width) +
                    "\" height=\"" + std::to_string(style.height) + "\" viewBox=\"0 0 " + std::to_string(style.width) +
                    " " + std::to_string(style.height) + "\" role=\"img\" aria-label=\"";
  std::string title(label);
  title.append(", max ").append(decimal(top, top < 10 ? 2 : 0));
  append_html_escaped(out, title);
  out.append("\"><title>");
  append_html_escaped(out, title);
  out.append("</title>");
  // The baseline, so an all-zero line still shows where zero is.
  out.append("<line x1=\"0\" y1=\"").append(decimal(h - pad, 1)).append("\" x2=\"").append(std::to_string(style.width));
  out.append("\" y2=\"").append(decimal(h - pad, 1)).append("\" stroke=\"#dfe1e6\" stroke-width=\"1\"/>");
  std::string points;
  std::size_t run = 0;
  for (std::size_t i = 0; i <= values.size(); ++i) {
    if (i == values.size() || !values[i]) {
      // A lone point gets a dot-long segment, so it shows.
      if (run == 1) points += " " + points;
      if (run > 0) polyline(out, points);
      points.clear();
      run = 0;
      continue;
    }
    const double y = top > 0 ? (h - pad) - (h - 2 * pad) * (*values[i] / top) : h - pad;
    if (!points.empty()) points += ' ';
    coordinate(points, pad + step * static_cast<double>(i));
    points += ',';
    coordinate(points, y);
    ++run;
  }
  out.append("</svg>");
  return out;
}

}  // namespace idmb::status
