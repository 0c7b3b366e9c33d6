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
            for (String line : Files.readAllLines(csv)) {
                if (line.startsWith("epoch")) {
                    continue;
                }
                String[] f = line.split(",");
                epoch.add(Double.parseDouble(f[0]));
                loss.add(Double.parseDouble(f[1]));
                trainAcc.add(Double.parseDouble(f[2]));
                testAcc.add(Double.parseDouble(f[3]));
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
}
