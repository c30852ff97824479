#!/usr/bin/env bash
# Accuracy of a supernet subnet on simulated RRAM chips vs one device key at a time
# (README "Non-ideal accuracy curves"). Usage: scripts/nonideal-curves.sh GENOME OUTDIR [RNC]
#   GENOME: largest | smallest | a genome JSON; RNC: the rnc binary (built with --features train).
# Each curve varies one key; the others stay ideal (no SAF, no variation) except where noted,
# with the embedded configuration otherwise (1-bit cells, 1-bit DAC, 8-bit ADC, 128 rows,
# on/off ratio 100). 1,000 test images, 5 chips per point.
set -euo pipefail
genome=$1
out=$2
rnc=${3:-rnc}
common=(supernet eval --genome "$genome" --nonideal --images 1000 --trials 5 --seed 1)
mkdir -p "$out"
"$rnc" "${common[@]}" --set Device_SAF=0,0 \
    --sweep Device_Variation=0,5,10,20 --out "$out/variation" 2>&1 | tee "$out/variation.log"
"$rnc" "${common[@]}" --set Device_Variation=0 \
    --sweep Device_SAF=0,1,2,5 --out "$out/saf" 2>&1 | tee "$out/saf.log"
"$rnc" "${common[@]}" --set Device_SAF=0,0 --set Device_Variation=0 \
    --set ADC_Choice=-1 --set ADC_Sample_Rate=1 --set ADC_Power=0.001 --set ADC_Area=0.001 \
    --sweep ADC_Precision=4,6,8,10 --out "$out/adc" 2>&1 | tee "$out/adc.log"
# Levels with the default 1 % variation (per array and level), no SAF.
"$rnc" "${common[@]}" --set Device_SAF=0,0 \
    --sweep Device_Level=2,4,16 --out "$out/level" 2>&1 | tee "$out/level.log"
