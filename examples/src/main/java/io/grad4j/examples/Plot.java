package io.grad4j.examples;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Loss and accuracy per epoch, from metrics.csv, as a PNG (XChart, headless). */
final class Plot {
    private Plot() {
    }

    static void write(Path png, Path csv) {
        System.setProperty("java.awt.headless", "true");
        try {
            List<Double> epoch = new ArrayList<>();
            List<Double> loss = new ArrayList<>();
            List<Double> trainAcc = new ArrayList<>();
            List<Double> testAcc = new ArrayList<>();
            int malformed = 0;
            for (String line : Files.readAllLines(csv)) {
                if (line.startsWith("epoch")) {
                    continue;
                }
                double[] v = numbers(line);
                if (v == null) { // a line cut short by a kill, or edited by hand: plot the rest
                    malformed++;
                    continue;
                }
                epoch.add(v[0]);
                loss.add(v[1]);
                trainAcc.add(v[2]);
                testAcc.add(v[3]);
            }
            if (malformed > 0) {
                System.out.println("plot: skipped " + malformed + " malformed line(s) of " + csv);
            }
            XYChart chart = new XYChartBuilder().width(800).height(480).title("grad4j train")
                    .xAxisTitle("epoch").yAxisTitle("loss / accuracy").build();
            chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
            chart.addSeries("train loss", epoch, loss);
            chart.addSeries("train accuracy", epoch, trainAcc);
            chart.addSeries("test accuracy", epoch, testAcc);
            String base = png.toString().replaceFirst("\\.png$", "");
            BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
            System.out.println("wrote " + png + " and " + csv);
        } catch (IOException | RuntimeException | LinkageError e) {
            // a runtime without java.desktop (the slim GPU bundle) still trains; it just draws nothing
            System.out.println("plot skipped (" + e + "); metrics are in " + csv);
        }
    }

    /** Curves over x (each row: x, then one value per series) as a PNG; skipped, with a line saying so, without java.desktop. */
    static void writeCurves(Path png, String title, String xName, List<String> series, List<double[]> rows) {
        System.setProperty("java.awt.headless", "true");
        try {
            XYChart chart = new XYChartBuilder().width(800).height(480).title(title).xAxisTitle(xName).yAxisTitle("loss")
                    .build();
            chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
            List<Double> x = new ArrayList<>();
            for (double[] r : rows) {
                x.add(r[0]);
            }
            for (int s = 0; s < series.size(); s++) {
                List<Double> y = new ArrayList<>();
                for (double[] r : rows) {
                    y.add(r[s + 1]);
                }
                chart.addSeries(series.get(s), x, y);
            }
            BitmapEncoder.saveBitmap(chart, png.toString().replaceFirst("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
            System.out.println("wrote " + png);
        } catch (IOException | RuntimeException | LinkageError e) {
            System.out.println("plot skipped (" + e + ")");
        }
    }

    /** The first four numbers of a metrics row, or null when it has fewer or one does not parse. */
    static double[] numbers(String line) {
        String[] f = line.split(",");
        if (f.length < 4) {
            return null;
        }
        double[] v = new double[4];
        try {
            for (int i = 0; i < 4; i++) {
                v[i] = Double.parseDouble(f[i].trim());
            }
        } catch (NumberFormatException e) {
            return null;
        }
        return v;
    }
}
